"""Safetensors archives: a ``safetensors``-compatible reader and file helpers.

A zipnn archive (docs/FORMAT.md section 12) is a safetensors file compressed tensor by
tensor: the original JSON header is kept verbatim, each tensor is one frame coded with its
own dtype, tied tensors are stored once, and tensors can be deltas against a base model.
This module mirrors the ``safetensors`` package, so a loader can swap one import::

    from zipnn.safetensors import safe_open          # was: from safetensors import safe_open
    with safe_open("model.znt", framework="pt", device="cpu") as f:
        for name in f.keys():
            t = f.get_tensor(name)
        meta = f.metadata()

    from zipnn.safetensors.torch import load_file    # was: from safetensors.torch import load_file
    tensors = load_file("model.znt")
    from zipnn.safetensors.numpy import load_file as load_np

Writing archives::

    zipnn.safetensors.compress_file("model.safetensors", "model.znt", method="auto")
    zipnn.safetensors.compress_file("ft.safetensors", "ft.znt", base="base.safetensors")
    zipnn.safetensors.decompress_file("ft.znt", "ft.safetensors", base="base.safetensors")
    archive = zipnn.safetensors.compress(data); data = zipnn.safetensors.decompress(archive)

Everything goes through the C ABI (``zipnn_archive_*``, ``zipnn_safetensors_compress*``);
tensors are decoded straight into the memory of the numpy array / torch tensor returned.
"""

from ._archive import (
    SAFETENSORS_DTYPES,
    Archive,
    TensorInfo,
    TensorSlice,
    compress,
    compress_file,
    decompress,
    decompress_file,
    load,
    load_file,
    numpy_dtype,
    open_archive,
    safe_open,
    torch_dtype,
)
from . import numpy, torch  # noqa: E402  (zipnn.safetensors.numpy / .torch; import lazily their frameworks)

__all__ = [
    "safe_open", "load_file", "load", "compress", "compress_file", "decompress",
    "decompress_file", "open_archive", "Archive", "TensorInfo", "TensorSlice",
    "SAFETENSORS_DTYPES", "numpy_dtype", "torch_dtype", "numpy", "torch",
]
