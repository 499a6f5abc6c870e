"""``zipnn.safetensors.numpy``: as ``safetensors.numpy`` for zipnn archives. BF16 and
F8_* tensors need ml_dtypes (they raise UnsupportedDtypeError without it)."""

from typing import Any, Dict

from . import _archive


def load_file(filename: Any, *, base: Any = None, threads: int = 0) -> Dict[str, Any]:
    """Every tensor of the archive ``filename`` as numpy arrays."""
    return _archive.load_file(filename, "cpu", framework="np", base=base, threads=threads)


def load(data: Any, *, base: Any = None, threads: int = 0) -> Dict[str, Any]:
    """Every tensor of an archive held in memory (bytes) as numpy arrays."""
    return _archive.load(data, framework="np", base=base, threads=threads)


__all__ = ["load_file", "load"]
