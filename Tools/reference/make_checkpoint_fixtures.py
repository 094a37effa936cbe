#!/usr/bin/env python3
"""Writes the PyTorch checkpoint fixtures for Tests/CheckpointsTests.

Usage:
    python3 Tools/reference/make_checkpoint_fixtures.py --reference /work/reference \
        --out Tests/Fixtures/checkpoints

The tensor names and shapes come from the reference models themselves (imported from the
--reference checkout, never copied): SuperPoint in full and SuperGlue with fewer GNN layers.
Their constructors load the official weights, which are not available, so Module.load_state_dict
and torch.load are stubbed out while they are built; the random weights are then written in both torch
serialisation formats (legacy, as the official 2018/2020 files use, and zip).

Every float tensor holds q * 2**e with q an int8 (fixture_io.quantize_tensor), so its float32
bytes are half zeros and git compresses them, and the expected values can be stored as int8 plus
a scale. The expected files hold what torch.load returns (made contiguous), written with
fixture_io.write_safetensors; a tensor equal to an earlier one (same dtype, shape and bytes) is
stored once and named by metadata 'same_as.NAME'. The script re-loads every checkpoint with
torch.load and checks it against the expected tensors before finishing.

Tied weights keep the model files small: in the SuperPoint and SuperGlue state dicts, tensors of
TIE_MIN or more elements that have the shape of an earlier one are that same tensor (as a model
that shares a module between two places would save), so torch.save writes their storage once.
SuperPoint's 1.3 M weights then take 0.64 M floats on disk. Every tensor name and shape stays the
reference's, and the files still hold many storages (every bias and BatchNorm buffer has its own).
"""
import argparse
import io
import json
import os
import pickle
import struct
import sys
from collections import OrderedDict
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import quantize_tensor, write_safetensors  # noqa: E402

SUPERGLUE_GNN_LAYERS = 1
TIE_MIN = 4096


def exact_random(shape, rng, scale=0.05, positive=False):
    """Random float32 values that int8 * power-of-two represents exactly."""
    values = rng.uniform(0.5, 1.5, shape) if positive else rng.standard_normal(shape) * scale
    q, s = quantize_tensor(values)
    return torch.from_numpy(np.asarray(q.astype(np.float32) * s, dtype=np.float32))


def randomize(state, rng):
    """Random values for a state dict; large tensors of a repeated shape are tied (docstring)."""
    out = OrderedDict()
    tied = {}
    for name, value in state.items():
        shape = tuple(value.shape)
        if value.dtype == torch.int64:  # BatchNorm num_batches_tracked
            out[name] = torch.tensor(int(rng.integers(1, 10**6)), dtype=torch.int64)
        elif name.endswith("running_var"):
            out[name] = exact_random(shape, rng, positive=True)
        elif value.numel() >= TIE_MIN and shape in tied:
            out[name] = tied[shape]
        else:
            out[name] = exact_random(shape, rng)
            if value.numel() >= TIE_MIN:
                tied[shape] = out[name]
    # Keep the _metadata attribute a real state_dict carries (pickled with BUILD).
    out._metadata = getattr(state, "_metadata", None)
    if out._metadata is None:
        del out._metadata
    return out


def reference_state_dicts(reference):
    sys.path.insert(0, reference)
    from models.superglue import SuperGlue  # noqa: E402
    from models.superpoint import SuperPoint  # noqa: E402

    with mock.patch.object(torch.nn.Module, "load_state_dict", lambda self, *a, **k: None), \
            mock.patch.object(torch, "load", lambda *a, **k: None), \
            mock.patch("builtins.print", lambda *a, **k: None):
        superpoint = SuperPoint({})
        superglue = SuperGlue({"GNN_layers": ["self", "cross"][:SUPERGLUE_GNN_LAYERS]})
    return superpoint.state_dict(), superglue.state_dict()


def expected_tensors(state):
    """{name: np.ndarray} for write_safetensors plus metadata naming each tensor's torch dtype
    and shape (write_safetensors stores 0-d arrays with shape [1], np.ascontiguousarray's rule).

    Floats big enough are stored as int8 + ':scale' (exact); bfloat16, which numpy lacks, is
    stored as its raw 16-bit patterns in an int16 array. A tensor equal to an earlier one (dtype,
    shape and bytes) is not stored again: metadata 'same_as.NAME' names the earlier one."""
    tensors, meta, seen = {}, {}, {}
    for name, value in state.items():
        value = value.detach().contiguous()
        meta["dtype." + name] = str(value.dtype).replace("torch.", "")
        meta["shape." + name] = json.dumps(list(value.shape))
        identity = (value.dtype, tuple(value.shape), value.reshape(-1).view(torch.uint8).numpy().tobytes())
        if identity in seen:
            meta["same_as." + name] = seen[identity]
            continue
        seen[identity] = name
        if value.dtype == torch.bfloat16:
            tensors[name] = value.view(torch.int16).numpy()
        elif value.dtype == torch.float32 and value.numel() >= 256:
            q, s = quantize_tensor(value.numpy())
            assert np.array_equal(q.astype(np.float32) * s, value.numpy()), name
            tensors[name] = q
            tensors[name + ":scale"] = np.array(s, dtype=np.float32)
        else:
            tensors[name] = value.numpy()
    return tensors, meta


def save(obj, path, legacy, protocol=2):
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy, pickle_protocol=protocol)


def check_same(loaded, expected, path):
    assert list(loaded.keys()) == list(expected.keys()), path
    for name, value in expected.items():
        got = loaded[name]
        assert got.dtype == value.dtype and got.shape == value.shape, (path, name)
        as_bytes = lambda t: t.detach().contiguous().reshape(-1).view(torch.uint8)  # noqa: E731
        assert torch.equal(as_bytes(got), as_bytes(value)), (path, name)


def check_tied(loaded, weights, path):
    """Tensors that are one object in `weights` share one storage after torch.load."""
    first = {}
    for name, value in weights.items():
        if id(value) in first:
            other = first[id(value)]
            assert loaded[name].untyped_storage().data_ptr() == loaded[other].untyped_storage().data_ptr(), (path, name)
        else:
            first[id(value)] = name


def variants(rng):
    """One state dict exercising views, shared storages and every supported dtype."""
    base = exact_random((4, 6), rng)
    flat = exact_random((20,), rng)
    sd = OrderedDict()
    sd["transposed"] = base.t()                      # strides (1, 6): non-contiguous
    sd["shares_base"] = base                          # same storage as "transposed"
    sd["column"] = base[:, 2]                         # storage offset 2, stride 6
    sd["offset_slice"] = flat[5:17].view(3, 4)        # storage offset 5
    sd["scalar"] = torch.tensor(0.75)
    sd["empty"] = torch.zeros(0, 3)
    sd["half"] = exact_random((3, 5), rng).half()
    sd["bfloat"] = exact_random((2, 7), rng).bfloat16().t()
    sd["double"] = exact_random((5,), rng).double()
    sd["long"] = torch.tensor([[-3, 2**40], [7, -2**62]], dtype=torch.int64)
    sd["int"] = torch.arange(-6, 6, dtype=torch.int32).view(3, 4)[:, ::2]
    sd["parameter"] = torch.nn.Parameter(exact_random((2, 3), rng))
    return sd


def legacy_storage_view_file(rng):
    """A legacy checkpoint whose persistent ids carry view metadata, as torch < 1.0 wrote for
    tensors over a slice of a storage. Current torch never writes these but still loads them,
    so the file is assembled here with the pickle module and checked with torch.load."""
    root = exact_random((12,), rng)

    class StorageRef:
        def __init__(self, view):
            self.view = view

    class TensorRef:
        def __init__(self, storage, offset, size, stride):
            self.args = (storage, offset, size, stride)

        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2, self.args + (False, OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, StorageRef):
                return ("storage", torch.FloatStorage, "root", "cpu", 12, obj.view)
            return None

    state = OrderedDict()
    state["whole"] = TensorRef(StorageRef(None), 0, (3, 4), (4, 1))
    state["view_tail"] = TensorRef(StorageRef(("view_a", 4, 8)), 1, (2, 3), (1, 2))
    state["view_tail_again"] = TensorRef(StorageRef(("view_a", 4, 8)), 0, (8,), (1,))

    out = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001,
                   {"protocol_version": 1001, "little_endian": True,
                    "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(header, out, protocol=2)
    Pickler(out, protocol=2).dump(state)
    pickle.dump(["root"], out, protocol=2)
    out.write(struct.pack("<q", 12))
    out.write(root.numpy().tobytes())

    expected = OrderedDict()
    expected["whole"] = root.view(3, 4)
    tail = root[4:12]
    expected["view_tail"] = torch.as_strided(tail.clone(), (2, 3), (1, 2), 1).contiguous()
    expected["view_tail_again"] = tail.clone()
    return out.getvalue(), expected


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", required=True, help="checkout of SuperGluePretrainedNetwork")
    parser.add_argument("--out", required=True, help="output folder (Tests/Fixtures/checkpoints)")
    parser.add_argument("--seed", type=int, default=20260124)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    path = lambda name: os.path.join(args.out, name)  # noqa: E731

    superpoint, superglue = reference_state_dicts(args.reference)
    written = []
    for model, state in (("superpoint", superpoint), ("superglue", superglue)):
        weights = randomize(state, rng)
        for fmt in ("legacy", "zip"):
            save(weights, path(f"{model}_{fmt}.pth"), legacy=fmt == "legacy")
            written.append((path(f"{model}_{fmt}.pth"), weights))
        tensors, meta = expected_tensors(weights)
        meta["model"] = model
        write_safetensors(path(f"{model}_expected.safetensors"), tensors, meta)

    sd = variants(rng)
    expected = OrderedDict((k, v.detach().contiguous()) for k, v in sd.items())
    # DataParallel-style names nested under 'model', next to non-tensor training state.
    wrapped = {"model": OrderedDict(("module." + k, v) for k, v in sd.items()), "epoch": 7,
               "optimizer": {"lr": 0.001, "betas": (0.9, 0.999)}}
    save(wrapped, path("variants_legacy.pth"), legacy=True)
    save(wrapped, path("variants_zip.pth"), legacy=False)
    # Protocol 4 brings FRAME, STACK_GLOBAL, MEMOIZE and SHORT_BINUNICODE.
    save({"state_dict": sd, "step": 3}, path("variants_zip_protocol4.pth"), legacy=False, protocol=4)
    save({"state_dict": sd, "step": 3}, path("variants_legacy_protocol4.pth"), legacy=True, protocol=4)
    tensors, meta = expected_tensors(expected)
    write_safetensors(path("variants_expected.safetensors"), tensors, meta)
    for name in ("variants_legacy.pth", "variants_zip.pth"):
        loaded = torch.load(path(name), weights_only=True)["model"]
        check_same(OrderedDict((k[len("module."):], v) for k, v in loaded.items()), expected, name)
    for name in ("variants_zip_protocol4.pth", "variants_legacy_protocol4.pth"):
        # torch's weights-only unpickler rejects FRAME; these files were written just above.
        check_same(torch.load(path(name), weights_only=False)["state_dict"], expected, name)

    data, view_expected = legacy_storage_view_file(rng)
    with open(path("legacy_storage_views.pth"), "wb") as f:
        f.write(data)
    check_same(torch.load(path("legacy_storage_views.pth"), weights_only=False), view_expected,
               "legacy_storage_views.pth")
    tensors, meta = expected_tensors(view_expected)
    write_safetensors(path("legacy_storage_views_expected.safetensors"), tensors, meta)

    for file, weights in written:
        loaded = torch.load(file, weights_only=True)
        check_same(loaded, weights, file)
        check_tied(loaded, weights, file)
        storages = {t.untyped_storage().data_ptr() for t in loaded.values()}
        print(f"{os.path.basename(file)}: {len(loaded)} tensors in {len(storages)} storages")
    total = sum(os.path.getsize(path(n)) for n in os.listdir(args.out))
    print(f"wrote {len(os.listdir(args.out))} files, {total / 1e6:.1f} MB, to {args.out}")


if __name__ == "__main__":
    main()
