"""``zipnn.safetensors.torch``: as ``safetensors.torch`` for zipnn archives (torch is
imported only when a tensor is made)."""

from typing import Any, Dict

from . import _archive


def load_file(filename: Any, device: Any = "cpu", *, base: Any = None, threads: int = 0) -> Dict[str, Any]:
    """Every tensor of the archive ``filename`` as torch tensors on ``device``."""
    return _archive.load_file(filename, device, framework="pt", base=base, threads=threads)


def load(data: Any, *, base: Any = None, threads: int = 0) -> Dict[str, Any]:
    """Every tensor of an archive held in memory (bytes) as CPU torch tensors."""
    return _archive.load(data, framework="pt", base=base, threads=threads)


__all__ = ["load_file", "load"]
