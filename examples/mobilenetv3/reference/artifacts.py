"""Writing the committed artifacts so that the same inputs give the same bytes.

numpy's own writers are not deterministic for archives (np.savez stamps every member with the
current time) and gzip stamps its header with the time too, so both are written here with fixed
stamps. reprod_log records are exactly what `ReprodLogger.save` writes: `np.save` of a dict.
"""
import gzip
import hashlib
import io
import os
import zipfile

import numpy as np

# The earliest time a zip member can carry: a fixed stamp, so the bytes depend on the data only.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def save_record(path, record):
    """A reprod_log record: `ReprodLogger().save(path)` is `np.save(path, dict)`.

    Values must be numpy arrays (as `ReprodLogger.add` asserts); dicts nest, as reprod_log's
    `compute_diff` recurses into them.
    """
    def check(prefix, d):
        for k, v in d.items():
            if isinstance(v, dict):
                check(f'{prefix}{k}.', v)
            elif not isinstance(v, np.ndarray):
                raise TypeError(f'{path}: {prefix}{k} is {type(v).__name__}, not np.ndarray')
    check('', record)
    np.save(path, record, allow_pickle=True)


def save_npy(path, array):
    np.save(path, array, allow_pickle=False)


def save_npz(path, arrays, compress=True):
    """`np.savez_compressed` with fixed member stamps, in the dict's order."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, 'w', compression=method) as z:
        for name, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f'{name}.npy', date_time=ZIP_EPOCH)
            info.compress_type = method
            info.external_attr = 0o600 << 16
            z.writestr(info, buf.getvalue(), compress_type=method, compresslevel=9)


def save_gzip(path, data):
    """gzip with mtime 0 and no file name in the header (as `gzip -n`)."""
    with open(path, 'wb') as f:
        f.write(gzip.compress(data, compresslevel=9, mtime=0))


def list_files(folder):
    """Every file under folder, as sorted paths relative to it (POSIX separators)."""
    out = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), folder)
            out.append(rel.replace(os.sep, '/'))
    return sorted(out)
