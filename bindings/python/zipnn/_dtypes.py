"""dtype names, numpy/torch dtype mapping, and the array metadata encoding.

Library dtypes (``ZIPNN_DTYPE_*``) by name: "raw", "bf16", "fp16", "fp32", "fp64",
"fp8_e4m3", "fp8_e5m2", "int8", "uint8" (aliases: "bfloat16", "float16", "half",
"float32", "float", "float64", "double", "float8_e4m3fn", "float8_e5m2", "byte", "bytes").
Any other numpy or torch dtype (int16, int32, int64, bool, complex64, ...) is coded as
"raw" with byte grouping by element size (``bg_partitions`` = itemsize, at most 8) and
round-trips exactly through the array metadata.

Array metadata (stored with ``zipnn_compress_with_metadata``): UTF-8 JSON, compact, keys
sorted::

    {"dtype": "bfloat16", "lib": "torch", "shape": [4096, 4096], "zipnn": 1}

``zipnn`` is the encoding version (1); ``lib`` is "numpy" or "torch" (what the input was);
``dtype`` is the element type's name as numpy and torch both spell it ("float32",
"bfloat16", "float8_e4m3fn", "int64", "bool", ...; a non-native byte order is numpy's
``dtype.str``, e.g. ">f4"); ``shape`` is the list of dimensions (C order). A ``user`` key
holds a JSON object the caller passed as ``metadata=dict``.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, Optional, Tuple

from . import _ffi
from ._buffers import is_numpy_array, is_torch_tensor, numpy_module
from ._errors import InvalidOptionError, UnsupportedDtypeError

#: Library dtype name -> ZIPNN_DTYPE_* code, from the header's constants (the names are
#: the library's own, ``zipnn_dtype_name``: "raw", "bf16", ..., "fp8_e4m3", "uint8").
DTYPE_CODES: Dict[str, int] = {
    k[len("ZIPNN_DTYPE_"):].lower(): v for k, v in vars(_ffi).items() if k.startswith("ZIPNN_DTYPE_")
}


def dtype_name(code: int) -> str:
    """The library's name of a dtype code (``zipnn_dtype_name``); "unknown(N)" for a code
    the loaded library does not know."""
    from ._lib import lib

    name = lib().zipnn_dtype_name(code)
    return name.decode("ascii") if name is not None else f"unknown({code})"


def element_size(code: int) -> int:
    """Bytes per element of a dtype code (``zipnn_dtype_element_size``; 1 for "raw")."""
    import ctypes

    from ._lib import lib

    n = ctypes.c_size_t(0)
    if lib().zipnn_dtype_element_size(code, ctypes.byref(n)) != _ffi.ZIPNN_OK:
        raise UnsupportedDtypeError(f"unknown dtype code {code}", detail="dtype")
    return n.value


_ALIASES: Dict[str, str] = {
    "byte": "raw", "bytes": "raw", "none": "raw",
    "bfloat16": "bf16",
    "float16": "fp16", "half": "fp16",
    "float32": "fp32", "float": "fp32",
    "float64": "fp64", "double": "fp64",
    "float8_e4m3fn": "fp8_e4m3", "float8_e4m3": "fp8_e4m3", "e4m3": "fp8_e4m3",
    "float8_e5m2": "fp8_e5m2", "e5m2": "fp8_e5m2",
}

_PLAIN_INTS: Dict[str, int] = {
    "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8,
}

#: Array element-type name -> library dtype (little-endian machines only).
_ELEMENT_TO_LIB: Dict[str, str] = {
    "bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "float64": "fp64",
    "float8_e4m3fn": "fp8_e4m3", "float8_e5m2": "fp8_e5m2", "int8": "int8", "uint8": "uint8",
}
_LITTLE = sys.byteorder == "little"

METADATA_VERSION = 1


def element_name(dtype: Any) -> Tuple[str, int]:
    """(name, itemsize) of a numpy or torch dtype."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(dtype, torch.dtype):
        name = str(dtype)
        if name.startswith("torch."):
            name = name[6:]
        itemsize = getattr(dtype, "itemsize", None)
        if itemsize is None:
            itemsize = torch.empty((), dtype=dtype).element_size()
        return name, int(itemsize)
    np = numpy_module()
    if np is not None:
        try:
            d = np.dtype(dtype)
        except TypeError:
            d = None
        if d is not None:
            if d.byteorder == ">" or (d.byteorder == "=" and not _LITTLE):
                return d.str, d.itemsize
            return d.name, d.itemsize
    raise UnsupportedDtypeError(f"unknown dtype {dtype!r}", detail="dtype")


def lib_dtype_for_element(name: str, itemsize: int) -> Tuple[str, int]:
    """Library dtype and bg_partitions for an array element type."""
    lib = _ELEMENT_TO_LIB.get(name) if _LITTLE else None
    if lib is not None:
        return lib, 1
    return "raw", itemsize if itemsize in (1, 2, 4, 8) else (8 if itemsize % 8 == 0 else 1)


def resolve(dtype: Any) -> Tuple[int, int]:
    """(ZIPNN_DTYPE_* code, default bg_partitions) for a dtype given by the caller: a
    library name or alias, an int code, a numpy dtype/type or a torch dtype."""
    if dtype is None:
        return _ffi.ZIPNN_DTYPE_RAW, 1
    if isinstance(dtype, bool):
        raise UnsupportedDtypeError(f"unknown dtype {dtype!r}", detail="dtype")
    if isinstance(dtype, int):
        return dtype, 1  # the library validates the code
    if isinstance(dtype, str):
        key = dtype.strip().lower()
        if key.startswith("torch."):
            key = key[6:]
        key = _ALIASES.get(key, key)
        if key in DTYPE_CODES:
            return DTYPE_CODES[key], 1
        if key in _PLAIN_INTS:  # no numpy needed for these
            return _ffi.ZIPNN_DTYPE_RAW, _PLAIN_INTS[key]
    try:
        name, itemsize = element_name(dtype)
    except UnsupportedDtypeError:
        raise UnsupportedDtypeError(
            f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPE_CODES)}, "
            "or a numpy/torch dtype",
            detail="dtype",
        ) from None
    lib, bg = lib_dtype_for_element(name, itemsize)
    return DTYPE_CODES[lib], bg


def array_description(obj: Any) -> Optional[Dict[str, Any]]:
    """The metadata dict for a numpy array or torch tensor, else None."""
    if is_numpy_array(obj):
        name, itemsize = element_name(obj.dtype)
        return {"dtype": name, "lib": "numpy", "shape": list(obj.shape), "zipnn": METADATA_VERSION,
                "_itemsize": itemsize}
    if is_torch_tensor(obj):
        name, itemsize = element_name(obj.dtype)
        return {"dtype": name, "lib": "torch", "shape": list(obj.shape), "zipnn": METADATA_VERSION,
                "_itemsize": itemsize}
    return None


def encode_metadata(desc: Optional[Dict[str, Any]], user: Any) -> Optional[bytes]:
    """The metadata block for a frame (None = no metadata)."""
    if desc is None:
        if user is None:
            return None
        if isinstance(user, dict):
            return _dumps({"user": user, "zipnn": METADATA_VERSION})
        return bytes(memoryview(user))  # verbatim caller bytes
    if user is not None and not isinstance(user, dict):
        raise InvalidOptionError(
            "metadata for an array input must be a dict (it is stored beside the array's "
            "dtype and shape); pass bytes only for bytes input",
            detail="metadata",
        )
    doc = {k: v for k, v in desc.items() if not k.startswith("_")}
    if user is not None:
        doc["user"] = user
    return _dumps(doc)


def _dumps(doc: Dict[str, Any]) -> bytes:
    try:
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    except (TypeError, ValueError) as e:
        raise InvalidOptionError(f"metadata is not JSON-serialisable: {e}", detail="metadata") from None


def decode_metadata(block: bytes) -> Optional[Dict[str, Any]]:
    """The parsed JSON document if ``block`` is metadata written by this binding."""
    if not block or block[:1] != b"{":
        return None
    try:
        doc = json.loads(block.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("zipnn") != METADATA_VERSION:
        return None
    return doc


def numpy_dtype(name: str) -> Any:
    """The numpy dtype for an element name (bfloat16/float8 need ml_dtypes)."""
    import numpy as np

    try:
        return np.dtype(name)
    except TypeError:
        pass
    try:
        import ml_dtypes  # noqa: F401
    except ImportError:
        raise UnsupportedDtypeError(
            f"numpy has no dtype {name!r}; install ml_dtypes for bfloat16 and float8 arrays",
            detail="dtype",
        ) from None
    try:
        return np.dtype(getattr(ml_dtypes, name))
    except (AttributeError, TypeError):
        raise UnsupportedDtypeError(f"numpy has no dtype {name!r}", detail="dtype") from None


def torch_dtype(name: Any) -> Any:
    import torch

    if isinstance(name, torch.dtype):
        return name
    if not isinstance(name, str):
        name, _ = element_name(name)
    key = name[6:] if name.startswith("torch.") else name
    key = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "fp64": "float64",
           "fp8_e4m3": "float8_e4m3fn", "fp8_e5m2": "float8_e5m2"}.get(key, key)
    dt = getattr(torch, key, None)
    if not isinstance(dt, torch.dtype):
        raise UnsupportedDtypeError(f"torch has no dtype {name!r}", detail="dtype")
    return dt


#: Element name used for a frame without array metadata, by library dtype.
FRAME_ELEMENT: Dict[str, str] = {
    "raw": "uint8", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "fp64": "float64",
    "fp8_e4m3": "float8_e4m3fn", "fp8_e5m2": "float8_e5m2", "int8": "int8", "uint8": "uint8",
}
