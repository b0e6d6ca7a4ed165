"""The reference checkpoint: torchvision's mobilenet_v3_small, trained briefly into a working model.

The seed's recipe aligns a randomly initialised model, whose eval-mode logits are ~1e-10: every
absolute check then passes for an all-zero output too. So the model is first trained here on the
Fashion-MNIST training subset. BatchNorm's momentum is 0.01 in torchvision's MobileNetV3, so after
a short run the running statistics still lag far behind the weights (eval-mode accuracy stays
near 10% for the first ~250 steps). They are therefore recalibrated at the end, as is usual after
short training: reset, then averaged exactly (momentum None) over one pass of the training subset
in train mode, without gradients. After that the eval-mode model is a working one.
"""
import copy

import torch
import torchvision

SEED = 0
NUM_CLASSES = 10
EPOCHS = 8  # of 64 steps: 512 SGD steps
LR = 0.05
MOMENTUM = 0.9
WEIGHT_DECAY = 0.0
SHUFFLE_SEED = 1


def build():
    torch.manual_seed(SEED)
    return torchvision.models.mobilenet_v3_small(num_classes=NUM_CLASSES)


def batch_norms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]


@torch.no_grad()
def recalibrate(model, loader):
    """Running statistics reset, then averaged exactly over the loader's batches (train mode)."""
    norms = batch_norms(model)
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: every batch counts alike
    model.train()
    for images, _labels in loader:
        model(images)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()


@torch.no_grad()
def top1(model, loader):
    model.eval()
    correct = total = 0
    for images, labels in loader:
        correct += (model(images).argmax(1) == labels).sum().item()
        total += labels.numel()
    return 100.0 * correct / total


def train(data, log=print):
    """Trains the model; returns it in eval mode and what it reached."""
    model = build()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = data.loader('train', shuffle_seed=SHUFFLE_SEED)
    steps = 0
    for epoch in range(EPOCHS):
        model.train()
        total = 0.0
        for images, labels in loader:
            opt.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        log(f'  epoch {epoch + 1}/{EPOCHS}: mean loss {total / len(loader):.4f}')
    lagging = top1(copy.deepcopy(model), data.loader('val'))
    recalibrate(model, data.loader('train'))
    reached = top1(model, data.loader('val'))
    log(f'  val top-1 (eval mode): {lagging:.1f}% with the lagging running statistics, '
        f'{reached:.1f}% recalibrated')
    return model, {
        'arch': f'torchvision.models.mobilenet_v3_small(num_classes={NUM_CLASSES})',
        'parameters': params,
        'init_seed': SEED,
        'training': {
            'optimizer': 'SGD', 'lr': LR, 'momentum': MOMENTUM, 'weight_decay': WEIGHT_DECAY,
            'batch_size': data.loader('train').batch_size, 'epochs': EPOCHS, 'steps': steps,
            'shuffle_seed': SHUFFLE_SEED, 'mode': 'train (batch statistics, dropout 0.2)',
        },
        'bn_recalibration': 'reset, then momentum=None over one in-order pass of the train subset',
        'val_top1_eval_mode_before_recalibration': round(lagging, 2),
        'val_top1_eval_mode': round(reached, 2),
    }

