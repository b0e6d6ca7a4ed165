"""The reference records, one per alignment stage, in reprod_log's format.

Each function returns the dict a `ReprodLogger` would hold, with flat keys as the recipe's
(`dataloader_0`, `loss_0`...); generate.py saves it as `<stage>_ref.npy`. The TypeScript stages (../stages/) compare their own values with these, key by
key, and record theirs as `align-out/<stage>_candidate.npy` for Python's reprod_log to diff too.
"""
import copy

import numpy as np
import torch

TIES_ROWS = 256
TIES_SEED = 2
DATA_BATCHES = {'train': 2, 'val': 1}


def accuracy(output, target, topk=(1,)):
    """The recipe's metric (Step1-5 `03_test_metric.py`): top-k accuracy in percent."""
    with torch.no_grad():
        maxk = max(topk)
        batch_size = target.size(0)
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target[None])
        return [correct[:k].flatten().sum(dtype=torch.float32) * (100.0 / batch_size)
                for k in topk]


def data_record(data):
    """Stage 1: the dataset lengths and the first batches, images and labels."""
    record = {}
    for split, count in DATA_BATCHES.items():
        loader = data.loader(split)
        record[f'{split}_length'] = np.array(len(loader.dataset), dtype=np.int64)
        for i, (images, labels) in zip(range(count), loader):
            record[f'{split}_images_{i}'] = images.numpy()
            record[f'{split}_labels_{i}'] = labels.numpy()
    return record


def eval_logits(model, loader):
    with torch.no_grad():
        return torch.cat([model(images) for images, _labels in loader])


def forward_record(model, data, fake_data):
    """Stage 2: eval-mode logits on the fake data (224x224) and on the whole validation subset,
    and train-mode logits (batch statistics, dropout off) on the first training batch."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(fake_data))
    trained = copy.deepcopy(model)  # train mode updates the running statistics: not the model's
    trained.train()
    for m in trained.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    images, _labels = next(iter(data.loader('train')))
    with torch.no_grad():
        train_logits = trained(images)
    return {
        'logits': logits.numpy(),
        'val_logits': eval_logits(model, data.loader('val')).numpy(),
        'train_logits': train_logits.numpy(),
    }


def tied_logits():
    """Logits with many ties, as a quantized model's are: integers 0..3 over 10 classes."""
    g = torch.Generator()
    g.manual_seed(TIES_SEED)
    logits = torch.randint(0, 4, (TIES_ROWS, 10), generator=g).float()
    labels = torch.randint(0, 10, (TIES_ROWS,), generator=g)
    return logits, labels


def metric_record(model, data):
    """Stage 3: accuracy (percent) of the first validation batch and of the whole subset, and on
    tied logits, where torch's topk order decides (its indices are recorded too)."""
    model.eval()
    images, labels = next(iter(data.loader('val')))
    with torch.no_grad():
        top1, top5 = accuracy(model(images), labels, topk=(1, 5))
    val_labels = torch.cat([labels for _images, labels in data.loader('val')])
    val_top1, val_top5 = accuracy(eval_logits(model, data.loader('val')), val_labels, (1, 5))
    tl, tlabels = tied_logits()
    t1, t5 = accuracy(tl, tlabels, topk=(1, 5))
    return {
        'acc_top1': top1.numpy(),
        'acc_top5': top5.numpy(),
        'val_acc_top1': val_top1.numpy(),
        'val_acc_top5': val_top5.numpy(),
        'ties_logits': tl.numpy(),
        'ties_labels': tlabels.numpy(),
        'ties_topk': tl.topk(5, 1, True, True)[1].numpy(),
        'ties_acc_top1': t1.numpy(),
        'ties_acc_top5': t5.numpy(),
    }
