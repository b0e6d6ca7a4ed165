"""The data: Fashion-MNIST subsets in their original IDX format, and torchvision's pipeline on them.

The subsets are the first TRAIN_SIZE images of the training set and the first VAL_SIZE of the
test set (Fashion-MNIST ships both already shuffled), written as IDX files again, so the
TypeScript side reads the very format torchvision reads. torchvision's own `FashionMNIST` class
reads them back here (from a temporary `FashionMNIST/raw/` folder, uncompressed, as it expects),
so the batches are torchvision's, not a re-implementation of it.
"""
import gzip
import os
import shutil
import struct

import torch
from torchvision import datasets, transforms

from artifacts import save_gzip, sha256_file

SOURCE = '/usr/share/datasets/fashion-mnist'  # Debian's dataset-fashion-mnist
TRAIN_SIZE = 2048  # 64 batches of 32: the next stage's training runs 3 epochs of these
VAL_SIZE = 1000
BATCH_SIZE = 32

# 32x32: the smallest size at or above the native 28 that MobileNetV3's five stride-2 stages
# take down to 1x1, and the one where both sides' training steps fit the budget of the training
# stage (torch 81 ms, TF.js wasm 336 ms per step at batch 32; 64 px doubles both, and 224 px
# backward aborts on wasm): see ../../shared/reference/example-feasibility.md.
RESOLUTION = 32
# Fashion-MNIST's pixel mean and standard deviation over the training set (of x / 255).
MEAN = 0.2860
STD = 0.3530

FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte', TRAIN_SIZE),
    'val': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', VAL_SIZE),
}


def transform():
    """ToTensor, resize, 3 channels, normalize: in that order, all in float32 on the tensor."""
    return transforms.Compose([
        transforms.ToTensor(),  # uint8 (H, W) -> float32 (1, H, W) / 255
        # On a tensor: interpolate(mode='bilinear', align_corners=False), antialias False (the
        # 0.14 default for tensors; upsampling 28 -> 32 is the same with it)
        transforms.Resize((RESOLUTION, RESOLUTION),
                          interpolation=transforms.InterpolationMode.BILINEAR),
        transforms.Lambda(lambda x: x.repeat(3, 1, 1)),
        transforms.Normalize((MEAN,) * 3, (STD,) * 3),
    ])


def _subset_idx(raw, count):
    """The first `count` items of an IDX file's bytes, header adjusted."""
    magic, n = struct.unpack('>II', raw[:8])
    ndim = magic & 0xFF
    dims = struct.unpack(f'>{ndim}I', raw[4:4 + 4 * ndim])
    if n < count:
        raise ValueError(f'IDX file has {n} items, {count} asked')
    item = 1
    for d in dims[1:]:
        item *= d
    header = struct.pack('>I', magic) + struct.pack(f'>{ndim}I', count, *dims[1:])
    start = 4 + 4 * ndim
    return header + raw[start:start + count * item]


def write_subsets(out):
    """Writes the subsets as `<name>.gz` into out; returns the source files' sha256."""
    sources = {}
    for images, labels, count in FILES.values():
        for name in (images, labels):
            src = os.path.join(SOURCE, f'{name}.gz')
            sources[f'{name}.gz'] = sha256_file(src)
            with gzip.open(src, 'rb') as f:
                raw = f.read()
            save_gzip(os.path.join(out, f'{name}.gz'), _subset_idx(raw, count))
    return sources


class Data:
    """torchvision's FashionMNIST over the subsets in `folder`, unpacked into `work`."""

    def __init__(self, folder, work):
        raw = os.path.join(work, 'FashionMNIST', 'raw')
        os.makedirs(raw, exist_ok=True)
        for images, labels, _count in FILES.values():
            for name in (images, labels):
                with gzip.open(os.path.join(folder, f'{name}.gz'), 'rb') as f, \
                        open(os.path.join(raw, name), 'wb') as g:
                    shutil.copyfileobj(f, g)
        t = transform()
        self.train = datasets.FashionMNIST(work, train=True, transform=t, download=False)
        self.val = datasets.FashionMNIST(work, train=False, transform=t, download=False)

    def loader(self, split, shuffle_seed=None):
        """Batches of 32 in order, or in a seeded shuffled order."""
        ds = self.train if split == 'train' else self.val
        generator = None
        if shuffle_seed is not None:
            generator = torch.Generator()
            generator.manual_seed(shuffle_seed)
        return torch.utils.data.DataLoader(
            ds, batch_size=BATCH_SIZE, shuffle=shuffle_seed is not None, generator=generator,
            num_workers=0)
