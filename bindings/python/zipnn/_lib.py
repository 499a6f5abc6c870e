"""Finds and loads the zipnn shared library.

Order (the first that loads wins):

1. ``ZIPNN_LIBRARY_PATH``: a library file, or a directory holding one. When set, only this
   is tried, so that a wrong override is an error rather than a silent fallback.
2. The library bundled inside this package (``pip install`` builds and copies it here).
3. ``ctypes.util.find_library("zipnn")`` (the system's search path).

When nothing loads, :class:`~zipnn.LibraryNotFoundError` lists every path tried and why
each failed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import List, Optional, Tuple

from . import _ffi
from ._errors import LibraryNotFoundError

ENV_VAR = "ZIPNN_LIBRARY_PATH"


def library_file_names() -> List[str]:
    """The file names the library has on this platform."""
    if sys.platform == "win32":
        return ["zipnn.dll", "libzipnn.dll"]
    if sys.platform == "darwin":
        return ["libzipnn.dylib"]
    return ["libzipnn.so"]


def candidate_paths(env: Optional[str] = None) -> Tuple[List[str], bool]:
    """The paths to try in order and whether they come from the override."""
    if env:
        p = Path(env).expanduser()
        if p.is_dir():
            return [str(p / n) for n in library_file_names()], True
        return [str(p)], True
    here = Path(__file__).resolve().parent
    return [str(here / n) for n in library_file_names()], False


def _try_load(path: str) -> ctypes.CDLL:
    if sys.platform == "win32" and os.path.isabs(path):
        # Let the DLL find its neighbours (Python >= 3.8 no longer searches PATH).
        os.add_dll_directory(os.path.dirname(path))  # type: ignore[attr-defined]
    return ctypes.CDLL(path)


def load_library(env: Optional[str] = None, use_env: bool = True) -> Tuple[ctypes.CDLL, str]:
    """Loads, binds and version-checks the library. Returns (library, path)."""
    if use_env and env is None:
        env = os.environ.get(ENV_VAR) or None
    paths, from_env = candidate_paths(env)
    tried: List[str] = []
    for path in paths:
        if not os.path.exists(path):
            tried.append(f"{path}: no such file")
            continue
        try:
            lib = _try_load(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
            continue
        return _checked(lib, path), path
    if not from_env:
        found = ctypes.util.find_library("zipnn")
        if found is None:
            tried.append('ctypes.util.find_library("zipnn"): not found')
        else:
            try:
                lib = _try_load(found)
                return _checked(lib, found), found
            except OSError as e:
                tried.append(f'ctypes.util.find_library("zipnn") -> {found}: {e}')
    how = (
        f"{ENV_VAR}={env!r} was set, so only it was tried"
        if from_env
        else f"set {ENV_VAR} to the library file or its directory (e.g. <repo>/target/release), "
        "or reinstall the package with `pip install ./bindings/python`, which builds and bundles it"
    )
    raise LibraryNotFoundError(
        "could not load the zipnn shared library; tried:\n  "
        + "\n  ".join(tried)
        + f"\n{how}"
    )


def _checked(lib: ctypes.CDLL, path: str) -> ctypes.CDLL:
    missing = _ffi.bind(lib)
    if missing:
        raise LibraryNotFoundError(
            f"{path} is not a compatible zipnn library: missing functions {', '.join(missing)}"
        )
    got = lib.zipnn_version_number()
    major, minor = got // 10000, (got // 100) % 100
    want_major, want_minor = _ffi.ZIPNN_VERSION_MAJOR, _ffi.ZIPNN_VERSION_MINOR
    # Before 1.0 a minor release may change the ABI, so the minor must match too.
    if major != want_major or (want_major == 0 and minor != want_minor):
        raise LibraryNotFoundError(
            f"{path} is zipnn {lib.zipnn_version_string().decode()} but this binding was "
            f"written for {want_major}.{want_minor}.x (header version {_ffi.ZIPNN_VERSION_NUMBER})"
        )
    return lib


_LIB: Optional[ctypes.CDLL] = None
_PATH: Optional[str] = None


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first use)."""
    global _LIB, _PATH
    if _LIB is None:
        _LIB, _PATH = load_library()
    return _LIB


def library_path() -> str:
    lib()
    assert _PATH is not None
    return _PATH
