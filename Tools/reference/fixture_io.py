"""Small, dependency-free helpers shared by the fixture generators in Tools/reference.

- write_safetensors / read_safetensors: the Hugging Face safetensors layout, written with numpy only.
- quantize_state_dict: makes random weights exactly representable in a compact fixture.
  Every tensor with >= QUANT_MIN elements becomes q * 2**-e with q an int8 in [-127, 127]
  and a per-tensor power-of-two scale, so float32 holds it exactly; the fixture stores the
  int8 tensor NAME and a float32 scalar NAME + ':scale'. Smaller tensors are stored as F32.
  The reference runs on the dequantized float32 values, so Swift loading the fixture sees
  bit-identical weights (Tests/SuperGlueKitTests/Support/FixtureWeights.swift reads it).
"""
import json
import struct

import numpy as np

QUANT_MIN = 4096

_DTYPES = {
    np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("float64"): "F64",
    np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int16"): "I16",
    np.dtype("int8"): "I8", np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL",
}
_NUMPY = {v: k for k, v in _DTYPES.items()}


def write_safetensors(path, tensors, metadata=None):
    """Write {name: np.ndarray} (C-contiguous little-endian) and a {str: str} metadata map."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name in sorted(tensors):
        # np.ascontiguousarray would turn a 0-d array (e.g. SuperGlue's bin_score) into shape [1].
        arr = np.asarray(tensors[name])
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        raw = arr.tobytes()
        header[name] = {"dtype": _DTYPES[arr.dtype.newbyteorder("=")], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    """Return ({name: np.ndarray}, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + end], dtype=_NUMPY[e["dtype"]]).reshape(e["shape"]).copy()
    return out, meta


def quantize_tensor(x):
    """Return (q int8, scale float32 power of two) with q * scale close to x; exact in float32."""
    x = np.asarray(x, dtype=np.float64)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak == 0.0:
        return np.zeros(x.shape, np.int8), np.float32(1.0)
    e = int(np.ceil(np.log2(peak / 127.0)))
    scale = 2.0 ** e
    q = np.clip(np.rint(x / scale), -127, 127).astype(np.int8)
    return q, np.float32(scale)


def quantize_state_dict(state):
    """state: {name: np.ndarray float}. Returns (exact float32 state, fixture tensors)."""
    exact, fixture = {}, {}
    for name, value in state.items():
        value = np.asarray(value)
        if value.dtype.kind == "f" and value.size >= QUANT_MIN:
            q, scale = quantize_tensor(value)
            exact[name] = (q.astype(np.float32) * scale).astype(np.float32)
            fixture[name] = q
            fixture[name + ":scale"] = np.array(scale, dtype=np.float32)
        elif value.dtype.kind == "f":
            exact[name] = value.astype(np.float32)
            fixture[name] = exact[name]
        else:
            exact[name] = value
            fixture[name] = value
    return exact, fixture


def dequantize_fixture(tensors):
    """Inverse of the fixture half of quantize_state_dict."""
    out = {}
    for name, value in tensors.items():
        if name.endswith(":scale"):
            continue
        if name + ":scale" in tensors:
            out[name] = (value.astype(np.float32) * tensors[name + ":scale"]).astype(np.float32)
        else:
            out[name] = value
    return out
