import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def repo_root() -> Path:
    env = os.environ.get("ZIPNN_REPO_ROOT")
    if env:
        return Path(env)
    return HERE.parent.parent.parent


@pytest.fixture(scope="session")
def root() -> Path:
    return repo_root()


@pytest.fixture(scope="session")
def header_text(root) -> str:
    path = root / "include" / "zipnn.h"
    if not path.is_file():
        pytest.skip(f"{path} not found (set ZIPNN_REPO_ROOT)")
    return path.read_text()


def bf16_like(n_elems: int, seed: int = 0) -> bytes:
    """Bytes that look like bf16 weights (normal(0, 0.02), top half of fp32)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    f = (rng.standard_normal(n_elems, dtype=np.float32) * 0.02).view(np.uint32)
    return (f >> 16).astype(np.uint16).tobytes()


def safetensors_bytes(tensors, metadata=None, order=None):
    """A safetensors file written by hand (the format: u64 little-endian header length,
    JSON header padded with spaces to a multiple of 8, data section). ``tensors``: name ->
    (safetensors dtype string, shape, raw bytes); data is laid out in ``order`` (default:
    insertion order)."""
    import json
    import struct

    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = bytearray()
    for name in order or list(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    return struct.pack("<Q", len(js)) + js + bytes(data)


#: safetensors dtype -> (numpy dtype for random data, bytes per element)
ST_DTYPES = {
    "BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "U32": 4, "I32": 4, "U64": 8, "I64": 8,
    "F16": 2, "BF16": 2, "F32": 4, "F64": 8, "F8_E4M3": 1, "F8_E5M2": 1,
}


def tensor_bytes(st_dtype, count, seed=0, scale=0.02):
    """Plausible raw bytes for ``count`` elements of a safetensors dtype."""
    import numpy as np

    rng = np.random.default_rng(seed)
    g = rng.standard_normal(count) * scale
    if st_dtype == "BOOL":
        return (rng.random(count) < 0.3).astype(np.uint8).tobytes()
    if st_dtype in ("F16", "F32", "F64"):
        return g.astype({"F16": np.float16, "F32": np.float32, "F64": np.float64}[st_dtype]).tobytes()
    if st_dtype == "BF16":
        return (g.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()
    if st_dtype in ("F8_E4M3", "F8_E5M2"):
        b = rng.integers(0, 256, count, dtype=np.uint8)
        # keep clear of NaN patterns so value comparisons stay meaningful
        b[(b & 0x7F) == 0x7F] = 0x10
        if st_dtype == "F8_E5M2":
            b[(b & 0x7C) == 0x7C] = 0x20
        return b.tobytes()
    size = ST_DTYPES[st_dtype]
    signed = st_dtype.startswith("I")
    kind = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64} if signed else \
        {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
    return rng.integers(0, 100, count).astype(kind[size]).tobytes()
