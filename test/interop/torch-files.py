"""
Checkpoints as torch and Paddle users have them, written by Debian's torch 1.13 (numpy is
imported as np by the test's runner): a state_dict of every dtype and layout torch.save writes
(float32/64/16, bfloat16, int64/32, uint8, bool, 0-d, empty, transposed, strided, expanded,
shared storages, an nn.Parameter) in both formats and with pickle protocol 4, a training
checkpoint, torchvision's mobilenet_v3_small state_dict, and Paddle-style .pdparams made as the
tutorial's torch2paddle makes them, protocols 2 and 4. Each comes with the values torch itself
holds, as an .npz (bfloat16 as float32), for the reader to be checked against.
"""
import collections, pickle, sys
import torch, torchvision
torch.manual_seed(0)

def expected(d):
    out = {}
    for k, t in d.items():
        t = t.detach()
        out[k] = (t.float() if t.dtype == torch.bfloat16 else t).contiguous().numpy()
    return out

base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 7
s = torch.arange(10, dtype=torch.float64) * 1.5
sd = collections.OrderedDict([
    ('f32', torch.randn(2, 3)),
    ('f64', torch.randn(3, dtype=torch.float64)),
    ('f16', torch.tensor([1, -2.5, 65504, 6e-8], dtype=torch.float16)),
    ('bf16', torch.tensor([1, -2.5, 3.140625, -1e30], dtype=torch.bfloat16)),
    ('i64', torch.tensor([2**62 + 1, -3, 0])),
    ('i32', torch.tensor([-7, 2**31 - 1], dtype=torch.int32)),
    ('u8', torch.tensor([0, 255], dtype=torch.uint8)),
    ('bool', torch.tensor([True, False, True])),
    ('zero_d', torch.tensor(3.5)),
    ('empty', torch.zeros(0, 3)),
    ('transposed', base.t()),
    ('strided', base[:, 1::2]),
    ('expanded', torch.arange(3.0).reshape(3, 1).expand(3, 4)),
    ('shared_mid', s[2:5]),
    ('shared_tail', s[5:]),
    ('shared_all', s),
    ('param', torch.nn.Parameter(torch.ones(2, 2))),
])
torch.save(sd, 'sd.pt')
torch.save(sd, 'sd_legacy.pt', _use_new_zipfile_serialization=False)
torch.save(sd, 'sd_p4.pt', pickle_protocol=4)
np.savez('sd_expected.npz', **expected(sd))

model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
model(torch.randn(4, 3)).sum().backward()
opt.step()
ckpt = {'epoch': 3, 'model': model.state_dict(), 'optimizer': opt.state_dict()}
torch.save(ckpt, 'ckpt.pt')
torch.save(ckpt, 'ckpt_legacy.pt', _use_new_zipfile_serialization=False)
flat = {('model.' + k): v for k, v in expected(model.state_dict()).items()}
for i, st in opt.state_dict()['state'].items():
    flat['optimizer.state.%d.momentum_buffer' % i] = st['momentum_buffer'].numpy()
np.savez('ckpt_expected.npz', **flat)

# what is not a state_dict: a whole-module save, a TorchScript archive, quantized and sparse
torch.save(model, 'whole_module.pt')
torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), 'scripted.pt')
torch.save({'q': torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.qint8)}, 'quantized.pt')
torch.save({'s': torch.eye(2).to_sparse()}, 'sparse.pt')

mv3 = torchvision.models.mobilenet_v3_small(num_classes=10).eval()
msd = mv3.state_dict()
torch.save(msd, 'mobilenet_v3_small.pth')
np.savez('mv3_expected.npz', **expected(msd))

# the tutorial's torch2paddle: numpy arrays, running stats renamed, num_batches_tracked
# dropped, classifier weights transposed (so numpy pickles them in Fortran order)
paddle = {}
for k, v in msd.items():
    if k.endswith('num_batches_tracked'):
        continue
    a = v.numpy()
    if k.startswith('classifier') and k.endswith('weight'):
        a = a.transpose()
    paddle[k.replace('running_mean', '_mean').replace('running_var', '_variance')] = a
for p in (2, 4):
    with open('mv3_p%d.pdparams' % p, 'wb') as f:
        pickle.dump(paddle, f, protocol=p)
np.savez('mv3_paddle_expected.npz', **paddle)

class LoD:
    def __init__(self, a): self.a = a
    def __reduce__(self): return (eval, ('data', {'data': self.a}))
class PaddleTensor:
    def __init__(self, name, a): self.name, self.a = name, a
    def __reduce__(self): return (tuple, ((self.name, self.a),))
big = np.arange(10, dtype=np.float32).reshape(2, 5)
extras = {
    'fc.weight': PaddleTensor('linear_0.w_0', np.ones((2, 3), np.float32)),
    'lod': LoD(np.array([1.5, 2.5])),
    'big@@.0': big.reshape(-1)[:6].copy(),
    'big@@.1': big.reshape(-1)[6:].copy(),
    'note': 'text',
    'StructuredToParameterName@@': {'fc.weight': 'linear_0.w_0'},
    'UnpackBigParamInfor@@': {'big': {'OriginShape': (2, 5), 'slices': ['big@@.0', 'big@@.1']}},
}
for p in (2, 4):
    with open('extras_p%d.pdparams' % p, 'wb') as f:
        pickle.dump(extras, f, protocol=p)
