"""The layer-by-layer view: every module's output and the gradient flowing into it.

From the committed checkpoint, two passes, each a forward and a backward of
`nn.CrossEntropyLoss()` (mean):

- `eval.*`: eval mode (running statistics) on one image (1x3x32x32, stored as `eval.input`, its
  label as `eval.label`, its index in the training subset as `eval.index`): the first training
  image the checkpoint is unsure of, p(label) < 0.8 (image 2, p 0.73; image 0 has p 0.999, and
  there the loss gradient softmax - onehot is 1e-3 made by cancelling two numbers near 1, so its
  float32 rounding alone would put a 5e-5 relative difference into every gradient below it).
  Eval mode, because a forward output is then a function of that one image alone, as it is
  deployed; BatchNorm in train mode cannot take one image at all (the last stages are 1x1
  spatially: one value per channel, torch raises).
- `train.*`: train mode (batch statistics, dropout off) on the first training batch of 32
  (data_ref's `train_images_0` / `train_labels_0`), the very pass whose parameter gradients
  stage 4 records as `grad.<name>`: BatchNorm's backward through the batch statistics only exists
  here, so a stage-4 gradient that does not align is bisected with these. Stored for the batch's
  first image only (`[0:1]` of every tensor; the other 31 take 32 times the bytes and add no kind
  of check: a bug in a module shows in every image). The loss is the batch mean, so these
  gradients are the batch's gradients, not one image's.

Keys, per recorded module `<path>` (torch's module path, `features.3.block.1.0`):
`<mode>.out.<path>`, the module's output (float32, torch NCHW / (N, C) layout), and
`<mode>.grad_in.<path>`, the gradient of the loss with respect to that output (what flows into
the module from above in the backward pass; a tensor hook on the output, equal to
`register_full_backward_hook`'s grad_output); `eval.grad_input`, the gradient with respect to
`eval.input` (what features.0's backward computes). The record's keys are in forward execution order
(a module after its children: forward hooks fire when a module returns), also listed in the
manifest (`layers.modules`), and `<mode>.loss`, `<mode>.logits` close each pass.

Recorded: every leaf module except the Dropout (an identity in eval mode and with dropout off),
every SqueezeExcitation (`features.N.block.1`: its output is scale * input, a product no child
computes), and every top-level block `features.N` (the named blocks; for the InvertedResidual ones
with a residual connection, the output after the addition). Not recorded, being the very tensor a
recorded child returns: the root model (= `classifier.3`), `features` (= `features.12`),
`classifier` (= `classifier.3`), each `features.N.block` Sequential (= its last child's output;
the residual is added after it) and each Conv2dNormActivation inside a block (`features.N.block.K`
= its activation's, or its BatchNorm's, output). `avgpool` is recorded before the flatten
(1x576x1x1); the flatten is not a module.

torchvision's modules compute in place (Hardswish/ReLU(inplace=True), Dropout(inplace=True),
`result += input` in InvertedResidual), which would overwrite a recorded output and breaks
backward hooks. The copy used here has every `inplace` off and the residual added out of place:
the same kernels on the same values, so the same numbers (the logits are asserted equal to the
untouched model's, bit for bit).
"""
import copy
import types

import numpy as np
import torch
from torchvision.models.mobilenetv3 import InvertedResidual
from torchvision.ops.misc import SqueezeExcitation

import backward


def _residual_out_of_place(self, input):
    result = self.block(input)
    if self.use_res_connect:
        result = result + input
    return result


def out_of_place(model):
    net = copy.deepcopy(model)
    for m in net.modules():
        if hasattr(m, 'inplace'):
            m.inplace = False
        if isinstance(m, InvertedResidual):
            m.forward = types.MethodType(_residual_out_of_place, m)
    return net


def recorded_modules(model):
    """The module paths recorded, in named_modules order."""
    out = []
    for name, m in model.named_modules():
        leaf = next(m.children(), None) is None
        top_block = name.startswith('features.') and name.count('.') == 1
        if (leaf and not isinstance(m, torch.nn.Dropout)) or top_block \
                or isinstance(m, SqueezeExcitation):
            out.append(name)
    return out


def _pass(net, images, labels, names, keep):
    """The pass's records; `images.grad` holds d loss / d input afterwards when it requires it."""
    outputs, grads, order = {}, {}, []
    handles = []
    modules = dict(net.named_modules())
    for name in names:
        def hook(_m, _inp, out, name=name):
            order.append(name)
            outputs[name] = out.detach()[:keep].numpy().copy()
            out.register_hook(lambda g, name=name: grads.__setitem__(
                name, g.detach()[:keep].numpy().copy()))
        handles.append(modules[name].register_forward_hook(hook))
    logits = net(images)
    loss = torch.nn.CrossEntropyLoss()(logits, labels)
    loss.backward()
    for h in handles:
        h.remove()
    assert sorted(order) == sorted(names) and set(grads) == set(names), 'a module was missed'
    return order, outputs, grads, logits.detach(), loss.detach()


UNSURE = 0.8


def unsure_image(model, images, labels):
    """The index of the first image whose label the eval-mode model gives p < UNSURE."""
    model.eval()
    with torch.no_grad():
        p = torch.softmax(model(images), 1)[torch.arange(len(labels)), labels]
    return int(torch.nonzero(p < UNSURE)[0, 0])


def layers_record(model, data):
    """The record and the execution order (for the manifest)."""
    images, labels = next(iter(data.loader('train')))
    index = unsure_image(model, images, labels)
    record = {}
    orders = {}
    for mode, x, y, keep in (('eval', images[index:index + 1], labels[index:index + 1], 1),
                             ('train', images, labels, 1)):
        net = out_of_place(model)
        reference = copy.deepcopy(model)
        if mode == 'eval':
            net.eval()
            reference.eval()
            record['eval.input'] = x.numpy().copy()
            # d loss / d input too: the gradient that features.0's backward computes, so that
            # a module-by-module backward replay can check the stem like every other block
            x = x.clone().requires_grad_(True)
            record['eval.label'] = y.numpy().copy()
            record['eval.index'] = np.array(index, dtype=np.int64)
        else:
            backward.train_mode(net)
            backward.train_mode(reference)
        names = recorded_modules(net)
        order, outputs, grads, logits, loss = _pass(net, x, y, names, keep)
        if mode == 'eval':
            record['eval.grad_input'] = x.grad.detach().numpy().copy()
            x = x.detach()
        with torch.no_grad():
            same = reference(x)
        assert torch.equal(same, logits), f'{mode}: out-of-place copy differs'
        for name in order:
            record[f'{mode}.out.{name}'] = outputs[name]
            record[f'{mode}.grad_in.{name}'] = grads[name]
        record[f'{mode}.logits'] = logits[:keep].numpy().copy()
        record[f'{mode}.loss'] = loss.numpy().copy()
        orders[mode] = order
    assert orders['eval'] == orders['train']
    return record, orders['eval']


def describe(order):
    return {
        'eval': 'eval mode, one image: the first training image whose label the checkpoint'
                f' gives p < {UNSURE} (eval.index; eval.input 1x3x32x32, eval.label), whole'
                ' tensors',
        'train': 'train mode (batch statistics, dropout off), the first training batch of 32'
                 ' (data_ref train_images_0, train_labels_0), loss the batch mean; every tensor'
                 ' stored for the batch\'s first image only ([0:1])',
        'keys': '<mode>.out.<module path>: the output; <mode>.grad_in.<module path>: d loss /'
                ' d output; <mode>.logits, <mode>.loss; eval.input, eval.label, eval.index,'
                ' eval.grad_input (d loss / d eval.input)',
        'recorded': 'every leaf module but Dropout, every SqueezeExcitation, every features.N',
        'not_recorded': 'the root, features, classifier, features.N.block, features.N.block.K'
                        ' (each the same tensor as a recorded child\'s output), Dropout'
                        ' (identity here)',
        'in_place': 'computed on a copy with inplace off and the residual added out of place;'
                    ' logits equal to the unmodified model\'s bit for bit',
        'order': 'forward execution order (a module after its children)',
        'modules': order,
    }
