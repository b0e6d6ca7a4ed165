"""Stage 4, loss and backward: the loss, the gradient of every parameter, six SGD steps.

All of it starts from the committed checkpoint (`mobilenet_v3_small.pth`, loaded back from the
file) and reads the committed subsets through `fashion_mnist.Data`:

- `loss_fake`: `nn.CrossEntropyLoss()` (mean) in eval mode on the seed's fake data (1x3x224x224,
  label [0]). Forward only: the TF.js wasm backend cannot run a backward pass at 224 px.
- `loss_eval`: the same loss in eval mode on the first training batch (32x3x32x32).
- `loss_train` and `grad.<torch parameter name>`: train mode (BatchNorm batch statistics, dropout
  off) on the first training batch; the gradient of every parameter (all 142), float32, torch
  layout, before the first optimizer step. `loss_train` is `loss_0`.
- `loss_<i>`, `lr_<i>` (i = 0..5): six SGD steps in train mode on training batches 0..5 in order
  (in-order loader), `lr_<i>` being the learning rate step i used.
- After the last step: every BatchNorm parameter in full (`weight.<name>`), every other parameter
  as a summary (`weight_stats.<name>`, `weight_index.<name>`, `weight_sample.<name>`, see
  `weight_summary`), every buffer in full under its state_dict name
  (`features.0.1.running_mean`, `...running_var`, `...num_batches_tracked`), and
  `eval_logits_after`: eval-mode logits on the first validation batch, which read the running
  statistics those six train-mode steps updated (momentum 0.01; torch normalises with the biased
  batch variance and updates running_var with the unbiased one).

The optimizer is torch's SGD (momentum 0.9, dampening 0, not Nesterov) with weight decay 1e-4 on
the convolution and Linear parameters and none on the BatchNorm weights and biases: two parameter
groups, as torchvision's reference training script makes with `--norm-weight-decay 0.0`
(`torchvision.ops._utils.split_normalization_params`). So a port that decays the BatchNorm
parameters too is wrong here, and shows it in their final values. The schedule is
`StepLR(step_size=2, gamma=0.5)`, stepped once after every iteration (each iteration stands for an
epoch, as in the recipe's `train_one_epoch` loop): lr 1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4, so
it really steps twice inside the six iterations (the recipe's step 5 had its scheduler commented
out). lr 1e-3 keeps six steps well inside the horizon where float32 error stays small.

Why the weights other than BatchNorm's are summaries: the example's committed artifacts must stay
within 25 MB. The stages 1-3 artifacts take 8.9 MB, the full gradients 6.1 MB (every element is
needed there), the training stage's random init 5.6 MB (it cannot be rebuilt outside torch); the
full weights after the last step would be another 6.1 MB (28 MB in all). The optimizer's errors
(momentum semantics, weight decay, schedule) act on every element alike, so per-tensor sums of the
weights and of their change from the checkpoint, plus 256 sampled elements each, show them; the
BatchNorm parameters (12,112 elements), where the weight-decay trap sits, are kept whole, and so
are all running statistics.
"""
import copy

import numpy as np
import torch

LR = 1e-3
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
NORM_WEIGHT_DECAY = 0.0
STEPS = 6
LR_STEP_SIZE = 2
LR_GAMMA = 0.5
SAMPLES = 256  # sampled elements per summarised weight tensor
SAMPLE_SEED = 5


def dropout_off(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()


def train_mode(model):
    """Train mode (BatchNorm batch statistics and running-statistics updates), dropout off."""
    model.train()
    dropout_off(model)


def norm_parameter_names(model):
    """The names of the BatchNorm weights and biases (torchvision's normalization params)."""
    names = set()
    for module_name, m in model.named_modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            for p_name, _p in m.named_parameters(recurse=False):
                names.add(f'{module_name}.{p_name}')
    return names


def sgd(model, lr, weight_decay):
    """torch.optim.SGD, momentum 0.9, weight decay on all but the BatchNorm parameters."""
    norms = norm_parameter_names(model)
    named = list(model.named_parameters())
    groups = [
        {'params': [p for n, p in named if n not in norms], 'weight_decay': weight_decay},
        {'params': [p for n, p in named if n in norms], 'weight_decay': NORM_WEIGHT_DECAY},
    ]
    return torch.optim.SGD(groups, lr=lr, momentum=MOMENTUM)


def load_model(arrays, build):
    """A model from a state_dict (the committed .pth, or numpy arrays), in eval mode."""
    model = build()
    model.load_state_dict({k: v if isinstance(v, torch.Tensor) else torch.from_numpy(np.array(v))
                           for k, v in arrays.items()}, strict=True)
    model.eval()
    return model


def weight_summary(name, before, after, generator):
    """Per-tensor summary of a weight after the steps.

    `weight_stats.<name>`: float64 [sum w, sum w^2, max |w|, sum d, sum d^2, max |d|], d = w - w0
    the change from the checkpoint's w0, all in float64 from the float32 values;
    `weight_index.<name>`: SAMPLES flat indices (C order) drawn without replacement by a seeded
    torch.Generator (every index when the tensor is smaller), sorted; `weight_sample.<name>`: the
    float32 weights at them.
    """
    w = after.detach().reshape(-1)
    w64 = w.double()
    d = w64 - before.detach().reshape(-1).double()
    n = w.numel()
    if n <= SAMPLES:
        index = torch.arange(n)
    else:
        index = torch.randperm(n, generator=generator)[:SAMPLES].sort().values
    stats = torch.stack([w64.sum(), (w64 * w64).sum(), w64.abs().max(),
                         d.sum(), (d * d).sum(), d.abs().max()])
    return {
        f'weight_stats.{name}': stats.numpy(),
        f'weight_index.{name}': index.numpy().astype(np.int64),
        f'weight_sample.{name}': w[index].numpy().copy(),
    }


def loss_backward_record(model, data, fake_data, fake_label):
    """Stage 4's record from the checkpoint `model` (eval mode; left untouched)."""
    loss_fn = torch.nn.CrossEntropyLoss()
    model.eval()
    train_images, train_labels = next(iter(data.loader('train')))
    with torch.no_grad():
        loss_fake = loss_fn(model(torch.from_numpy(fake_data)), torch.from_numpy(fake_label))
        loss_eval = loss_fn(model(train_images), train_labels)
    record = {'loss_fake': loss_fake.numpy(), 'loss_eval': loss_eval.numpy()}

    net = copy.deepcopy(model)
    train_mode(net)
    opt = sgd(net, LR, WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=LR_STEP_SIZE, gamma=LR_GAMMA)
    steps = {}
    for i, (images, labels) in zip(range(STEPS), data.loader('train')):
        lr = opt.param_groups[0]['lr']
        opt.zero_grad()
        loss = loss_fn(net(images), labels)
        loss.backward()
        if i == 0:
            record['loss_train'] = loss.detach().numpy().copy()
            for name, p in net.named_parameters():
                record[f'grad.{name}'] = p.grad.detach().numpy().copy()
        opt.step()
        sched.step()
        steps[f'loss_{i}'] = loss.detach().numpy().copy()
        steps[f'lr_{i}'] = np.array(lr, dtype=np.float64)
    record.update(steps)

    norms = norm_parameter_names(net)
    before = dict(model.named_parameters())
    g = torch.Generator()
    g.manual_seed(SAMPLE_SEED)
    for name, p in net.named_parameters():
        if name in norms:
            record[f'weight.{name}'] = p.detach().numpy().copy()
        else:
            record.update(weight_summary(name, before[name], p, g))
    for name, b in net.named_buffers():
        record[name] = b.detach().numpy().copy()
    net.eval()
    val_images, _labels = next(iter(data.loader('val')))
    with torch.no_grad():
        record['eval_logits_after'] = net(val_images).numpy()
    return record


def describe():
    return {
        'start': 'the committed checkpoint (mobilenet_v3_small.pth), loaded back from the file',
        'loss': 'nn.CrossEntropyLoss() (mean over the batch)',
        'loss_fake': 'eval mode, fake_data.npy (1x3x224x224), label fake_label.npy; forward only',
        'loss_eval': 'eval mode, the first training batch (data_ref train_images_0/labels_0)',
        'loss_train': 'train mode (batch statistics, dropout off), the first training batch;'
                      ' equals loss_0',
        'grad': 'grad.<torch parameter name>: every parameter (142), float32, torch layout,'
                ' after the first backward pass, before the first optimizer step',
        'steps': STEPS,
        'batches': 'training batches 0..5 of the in-order loader (batch 32), train mode,'
                   ' dropout off',
        'optimizer': {
            'name': 'torch.optim.SGD', 'lr': LR, 'momentum': MOMENTUM, 'dampening': 0.0,
            'nesterov': False, 'weight_decay': WEIGHT_DECAY,
            'norm_weight_decay': NORM_WEIGHT_DECAY,
            'param_groups': 'group 0: every parameter outside BatchNorm (weight_decay 1e-4);'
                            ' group 1: the BatchNorm weights and biases (weight_decay 0), as'
                            ' torchvision\'s train.py --norm-weight-decay 0.0',
        },
        'schedule': f'torch.optim.lr_scheduler.StepLR(step_size={LR_STEP_SIZE},'
                    f' gamma={LR_GAMMA}), stepped once after every iteration;'
                    ' lr_i is the lr iteration i used',
        'after_last_step': {
            'weight.<name>': 'BatchNorm weights and biases, whole (float32)',
            'weight_stats.<name>': 'other parameters: float64 [sum w, sum w^2, max|w|, sum d,'
                                   ' sum d^2, max|d|], d = w - checkpoint w, in float64',
            'weight_index.<name>': f'{SAMPLES} sorted flat indices (all if smaller), seeded'
                                   f' torch.Generator({SAMPLE_SEED}) randperm, in parameter'
                                   ' order',
            'weight_sample.<name>': 'the float32 weights at weight_index',
            '<buffer name>': 'every buffer whole under its state_dict name (running_mean,'
                             ' running_var float32; num_batches_tracked int64)',
            'eval_logits_after': 'eval-mode logits on the first validation batch (32, 10)',
        },
        'why_summaries': 'the 25 MB budget: full weights after the last step (6.1 MB) next to'
                         ' the full gradients (6.1 MB) and the training init (5.6 MB) would'
                         ' make 28 MB',
    }
