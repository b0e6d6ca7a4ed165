#!/usr/bin/python3
"""Generates the MobileNetV3 example's reference artifacts (../data/) with torch and torchvision.

    npm run reference               # regenerate ../data/ in place
    npm run reference -- --check    # regenerate into a temporary folder and compare: exit 1 and
                                    # list every artifact that differs, or exit 0

Runs under Debian's /usr/bin/python3 with python3-torch, python3-torchvision, python3-numpy and
dataset-fashion-mnist. Stages 1-3 (data_ref, forward_ref, metric_ref) read the trained model;
stage 4 (loss_backward_ref) and the layer-by-layer view (layers_ref) the checkpoint read back from
its file; stage 5 (training_ref) trains from a random init (train_init.npz) with its noise runs,
the float64 one in a second process. One thread, fixed seeds, fixed orders and fixed file stamps: the same
machine kind gives the same bytes. The tests and `npm run align` only read the committed output.
"""
import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

import backward  # noqa: E402
import checkpoint  # noqa: E402
import fashion_mnist  # noqa: E402
import layers  # noqa: E402
import stages  # noqa: E402
import training  # noqa: E402
from artifacts import list_files, save_npy, save_npz, save_record, sha256_file  # noqa: E402

EXAMPLE = os.path.dirname(HERE)
DATA = os.path.join(EXAMPLE, 'data')
MANIFEST = 'manifest.json'
CHECKPOINT = 'mobilenet_v3_small.pth'  # torch.save(model.state_dict()), the seed's own step
TRAIN_INIT = 'train_init.npz'
FAKE_SEED = 0  # np.random.seed before the seed's gen_fake_data()


def gen_fake_data(out):
    """The seed's `gen_fake_data()` (reprod_log tutorial, section 3.2), seeded."""
    np.random.seed(FAKE_SEED)
    fake_data = np.random.rand(1, 3, 224, 224).astype(np.float32) - 0.5
    fake_label = np.arange(1).astype(np.int64)
    save_npy(os.path.join(out, 'fake_data.npy'), fake_data)
    save_npy(os.path.join(out, 'fake_label.npy'), fake_label)
    return fake_data, fake_label


def generate(out, log=print):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(out, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        log('data: Fashion-MNIST subsets')
        sources = fashion_mnist.write_subsets(out)
        data = fashion_mnist.Data(out, work)
        fake_data, fake_label = gen_fake_data(out)
        log('checkpoint: training torchvision mobilenet_v3_small')
        model, trained = checkpoint.train(data, log)
        torch.save(model.state_dict(), os.path.join(out, CHECKPOINT))
        log('records: data, forward, metric')
        save_record(os.path.join(out, 'data_ref.npy'), stages.data_record(data))
        save_record(os.path.join(out, 'forward_ref.npy'),
                    stages.forward_record(model, data, fake_data))
        save_record(os.path.join(out, 'metric_ref.npy'), stages.metric_record(model, data))

        # Stages 4, 5 and the layer-by-layer view start from the files as committed: the
        # checkpoint read back (the very bytes the TS side loads), the train init written first.
        checkpoint_file = os.path.join(out, CHECKPOINT)
        committed = backward.load_model(torch.load(checkpoint_file, weights_only=True),
                                        checkpoint.build)
        log('records: loss_backward (stage 4)')
        save_record(os.path.join(out, 'loss_backward_ref.npy'),
                    backward.loss_backward_record(committed, data, fake_data, fake_label))
        log('records: layers (module outputs and their gradients)')
        layer_record, layer_order = layers.layers_record(committed, data)
        save_record(os.path.join(out, 'layers_ref.npy'), layer_record)
        log('records: training (stage 5) from a random init, and its noise runs')
        save_npz(os.path.join(out, TRAIN_INIT), training.init_arrays())
        with np.load(os.path.join(out, TRAIN_INIT)) as z:
            init = dict(z)
        training_rec, trained_info = training.training_record(init, data, log)
        save_record(os.path.join(out, 'training_ref.npy'), training_rec)

    artifacts = {}
    for name in list_files(out):
        if name == MANIFEST:
            continue
        path = os.path.join(out, name)
        artifacts[name] = {'bytes': os.path.getsize(path), 'sha256': sha256_file(path)}
    manifest = {
        'about': 'The MobileNetV3 example\'s reference artifacts; written by reference/generate.py'
                 ' (npm run reference); check with npm run reference -- --check.',
        'versions': {
            'python': platform.python_version(),
            'torch': torch.__version__,
            'torchvision': torchvision.__version__,
            'numpy': np.__version__,
        },
        'threads': torch.get_num_threads(),
        'seeds': {
            'model_init': checkpoint.SEED,
            'train_shuffle': checkpoint.SHUFFLE_SEED,
            'fake_data': FAKE_SEED,
            'tied_logits': stages.TIES_SEED,
            'loss_backward_weight_samples': backward.SAMPLE_SEED,
            'train_init': training.INIT_SEED,
            'train_permutations': training.PERM_SEED,
            'noise_perturbations': list(training.PERTURB_SEEDS),
        },
        'data': {
            'source': f'{fashion_mnist.SOURCE} (Debian package dataset-fashion-mnist)',
            'source_sha256': sources,
            'train_subset': f'the first {fashion_mnist.TRAIN_SIZE} images of the training set',
            'val_subset': f'the first {fashion_mnist.VAL_SIZE} images of the test set',
            'resolution': fashion_mnist.RESOLUTION,
            'batch_size': fashion_mnist.BATCH_SIZE,
            'transforms': 'ToTensor, Resize((32, 32), bilinear, align_corners=False), '
                          'repeat to 3 channels, Normalize(0.2860, 0.3530)',
            'mean': fashion_mnist.MEAN,
            'std': fashion_mnist.STD,
            'fake_data': 'np.random.rand(1, 3, 224, 224).astype(np.float32) - 0.5, label [0]',
        },
        'checkpoint': {'file': CHECKPOINT, **trained},
        'loss_backward': {'file': 'loss_backward_ref.npy', **backward.describe()},
        'layers': {'file': 'layers_ref.npy', **layers.describe(layer_order)},
        'training': {'file': 'training_ref.npy', 'init_file': TRAIN_INIT, **trained_info},
        'generator': {
            name: sha256_file(os.path.join(HERE, name))
            for name in sorted(os.listdir(HERE)) if name.endswith('.py')
        },
        'artifacts': artifacts,
        'total_bytes': sum(a['bytes'] for a in artifacts.values()),
    }
    with open(os.path.join(out, MANIFEST), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    log(f'wrote {len(artifacts)} artifacts, {manifest["total_bytes"]:,} bytes, into {out} '
        f'in {time.monotonic() - started:.0f} s')
    return manifest


def json_differences(a_path, b_path):
    """The dotted paths at which two JSON files differ (for the manifest)."""
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    out = []

    def walk(x, y, path):
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y), key=str):
                walk(x.get(k), y.get(k), f'{path}.{k}' if path else str(k))
        elif x != y:
            out.append(path or '(whole file)')
    walk(a, b, '')
    return out


def check(log=print):
    """Regenerates into a temporary folder; lists what differs from the committed artifacts."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = os.path.join(tmp, 'data')
        generate(fresh, log)
        committed = set(list_files(DATA))
        regenerated = set(list_files(fresh))
        differ = []
        for name in sorted(committed | regenerated):
            if name not in regenerated:
                differ.append(f'{name}: committed, but not generated')
            elif name not in committed:
                differ.append(f'{name}: generated, but not committed')
            elif sha256_file(os.path.join(DATA, name)) != sha256_file(os.path.join(fresh, name)):
                why = ''
                if name == MANIFEST:
                    fields = json_differences(os.path.join(DATA, name), os.path.join(fresh, name))
                    why = f' ({", ".join(fields)})' if fields else ''
                differ.append(f'{name}: differs from the committed file{why}')
        if differ:
            log(f'{len(differ)} of {len(committed | regenerated)} artifacts do not reproduce:')
            for line in differ:
                log(f'  {line}')
            return 1
        log(f'all {len(committed)} artifacts reproduce byte for byte')
        return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='regenerate into a temporary folder and compare with ../data/')
    parser.add_argument('--out', default=DATA, help='where to write (default: ../data/)')
    args = parser.parse_args()
    if args.check:
        sys.exit(check())
    if os.path.abspath(args.out) == DATA:
        shutil.rmtree(DATA, ignore_errors=True)  # no stale artifacts left behind
    generate(args.out)


if __name__ == '__main__':
    main()
