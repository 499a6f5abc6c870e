"""Safetensors archives over ``zipnn_archive_*`` and ``zipnn_safetensors_compress*``.

See the package docstring (``zipnn.safetensors``) for the overview.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from .. import _dtypes, _ffi
from .._api import _check, _FileView, _uint, error_string, make_options, LOSSY_NAMES
from .._buffers import OutBytes, Pinned, destination, source
from .._errors import (
    BadSafetensorsError,
    FileIOError,
    InvalidOptionError,
    NotAFrameError,
    NotFoundError,
    UnsupportedDtypeError,
)
from .._lib import lib

PathLike = Union[str, "os.PathLike[str]"]

#: safetensors dtype string -> (element name as numpy/torch spell it, bytes per element).
SAFETENSORS_DTYPES: Dict[str, Tuple[str, int]] = {
    "BOOL": ("bool", 1),
    "U8": ("uint8", 1),
    "I8": ("int8", 1),
    "U16": ("uint16", 2),
    "I16": ("int16", 2),
    "U32": ("uint32", 4),
    "I32": ("int32", 4),
    "U64": ("uint64", 8),
    "I64": ("int64", 8),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "F32": ("float32", 4),
    "F64": ("float64", 8),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E5M2": ("float8_e5m2", 1),
}

_ARCHIVE_MAGIC = b"\x89ZNT"

_FRAMEWORKS = {
    "pt": "torch", "torch": "torch", "pytorch": "torch",
    "np": "numpy", "numpy": "numpy",
}


def framework_name(framework: Any) -> str:
    """"torch" or "numpy" for a safetensors framework name ("pt", "np", ...)."""
    key = str(framework).strip().lower() if framework is not None else ""
    if key not in _FRAMEWORKS:
        raise InvalidOptionError(
            f"framework must be 'pt'/'torch' or 'np'/'numpy', got {framework!r}", detail="framework")
    return _FRAMEWORKS[key]


def numpy_dtype(st_dtype: str) -> Any:
    """The numpy dtype for a safetensors dtype string. BF16 and F8_* need ml_dtypes
    (``pip install ml_dtypes``); without it they raise UnsupportedDtypeError (no silent
    reinterpretation as integers)."""
    if st_dtype not in SAFETENSORS_DTYPES:
        raise UnsupportedDtypeError(f"unknown safetensors dtype {st_dtype!r}", detail="dtype")
    return _dtypes.numpy_dtype(SAFETENSORS_DTYPES[st_dtype][0])


def torch_dtype(st_dtype: str) -> Any:
    """The torch dtype for a safetensors dtype string (BF16 -> torch.bfloat16, F8_E4M3 ->
    torch.float8_e4m3fn, F8_E5M2 -> torch.float8_e5m2, U16/U32/U64 -> torch.uint16/32/64,
    which need torch >= 2.3)."""
    if st_dtype not in SAFETENSORS_DTYPES:
        raise UnsupportedDtypeError(f"unknown safetensors dtype {st_dtype!r}", detail="dtype")
    name = SAFETENSORS_DTYPES[st_dtype][0]
    try:
        return _dtypes.torch_dtype(name)
    except UnsupportedDtypeError:
        raise UnsupportedDtypeError(
            f"this torch has no dtype {name!r} for safetensors {st_dtype}", detail="dtype") from None


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of an archive (``zipnn_tensor_info``)."""

    name: str
    dtype: str  #: the safetensors dtype string ("BF16", "F32", "I64", ...)
    shape: Tuple[int, ...]
    size: int  #: bytes of the tensor
    data_offset: int  #: offset in the original file's data section
    compressed_size: int  #: bytes of its frame (0 for a tied tensor)
    flags: int  #: ZIPNN_TENSOR_* bits
    tied_to: Optional[str]  #: for a tied tensor, the name of the tensor it repeats
    coded_dtype: str  #: the library dtype the frame uses ("bf16", "raw", ...)
    lossy: str  #: "none", "integer" or "mantissa"
    lossy_param: int

    @property
    def is_tied(self) -> bool:
        return bool(self.flags & _ffi.ZIPNN_TENSOR_TIED)

    @property
    def is_delta(self) -> bool:
        """Decoding needs the base model (``base=``)."""
        return bool(self.flags & _ffi.ZIPNN_TENSOR_DELTA)

    @property
    def is_lossy(self) -> bool:
        return bool(self.flags & _ffi.ZIPNN_TENSOR_LOSSY)


# Fresh memory is mapped page by page as it is first written; on Linux, asking for huge
# pages (MADV_HUGEPAGE, honoured when transparent huge pages are "always" or "madvise")
# makes that several times cheaper for large tensors: first writes to a new 90 MB tensor
# took 137 ms with 4 KiB pages and 47 ms with 2 MiB pages on a 2-core x86_64 VM, while
# decoding into memory already mapped took 22 ms. Advice only: any failure is ignored.
_HUGE_PAGE = 2 << 20
_madvise: Any = None


def _advise_huge_pages(ptr: Optional[int], nbytes: int) -> None:
    global _madvise
    if ptr is None or nbytes < 4 * _HUGE_PAGE or not sys.platform.startswith("linux"):
        return
    if _madvise is None:
        try:
            f = ctypes.CDLL(None, use_errno=True).madvise
            f.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            f.restype = ctypes.c_int
            _madvise = f
        except (OSError, AttributeError):
            _madvise = False
    if _madvise:
        start = -(-ptr // _HUGE_PAGE) * _HUGE_PAGE  # whole huge pages inside the buffer
        end = (ptr + nbytes) // _HUGE_PAGE * _HUGE_PAGE
        if end > start:
            _madvise(start, end - start, 14)  # MADV_HUGEPAGE


def _path_arg(path: PathLike) -> bytes:
    p = os.fsencode(path)
    if b"\0" in p:
        raise InvalidOptionError("a path cannot contain NUL", detail="path")
    return p


def _check_file(status: int, what: str, path: PathLike) -> None:
    try:
        _check(status, what)
    except FileIOError as e:
        e.filename = os.fspath(path)
        raise


def _is_pathlike(obj: Any) -> bool:
    return isinstance(obj, (str, os.PathLike))


def _head_of_file(path: PathLike) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(16)
    except OSError:
        return b""


def _not_an_archive(e: NotAFrameError, head: bytes, what: str) -> NotAFrameError:
    """A clearer error when the input is a plain safetensors file."""
    if len(head) >= 9 and head[8:9] == b"{":
        return NotAFrameError(
            f"{what} is a plain safetensors file, not a zipnn archive: read it with the "
            "safetensors package, or compress it with zipnn.safetensors.compress_file()",
            code=e.code, detail=e.detail)
    return e


class Archive:
    """An opened safetensors archive (``zipnn_archive``).

    ``source``: a path (opened with ``zipnn_archive_open_file``: only the header and index
    are read now, each tensor's frame when it is decoded) or the archive's bytes
    (``bytes``, ``bytearray``, ``memoryview``, ``mmap``, numpy uint8 array...; borrowed
    with ``zipnn_archive_open_memory``: this object keeps a reference and the buffer must
    not change while the archive is open). ``base``: the base model's *uncompressed*
    safetensors file for a delta archive (a path, read by the library, or bytes, borrowed
    like ``source``). ``threads``: decode workers per tensor (0 = all cores).
    ``max_size``: refuse tensors (and, for :meth:`restore`, whole files) larger than this
    many bytes (LimitExceededError), before anything is allocated. For a path, None or 0
    means :data:`zipnn.DEFAULT_FILE_LIMIT` (4 GiB), so that a stranger's file cannot
    exhaust memory; :data:`zipnn.NO_LIMIT` lifts it. For bytes, None means no limit.

    Many threads may call :meth:`get_tensor`/:meth:`decode_into`/:meth:`info` at once;
    :meth:`set_base` and :meth:`close` must not race with other calls. Use as a context
    manager or call :meth:`close` (``__del__`` frees a handle left open).
    """

    _handle: Optional[int] = None

    def __init__(self, source: Any, *, base: Any = None, threads: int = 0,
                 max_size: Optional[int] = None) -> None:
        self._handle = None
        self._pin: Optional[Pinned] = None
        self._base_pin: Optional[Pinned] = None
        self._names: Optional[List[str]] = None
        self._header: Optional[Dict[str, Any]] = None
        opts = make_options(threads=_uint("threads", threads), max_size=max_size)
        h = ctypes.c_void_p()
        if _is_pathlike(source):
            self.path: Optional[str] = os.fspath(source)
            try:
                _check_file(lib().zipnn_archive_open_file(_path_arg(source), ctypes.byref(opts),
                                                          ctypes.byref(h)),
                            "zipnn_archive_open_file", source)
            except NotAFrameError as e:
                raise _not_an_archive(e, _head_of_file(source), repr(self.path)) from None
        else:
            self.path = None
            pin = Pinned(source)
            try:
                _check(lib().zipnn_archive_open_memory(pin.ptr, pin.size, ctypes.byref(opts),
                                                       ctypes.byref(h)),
                       "zipnn_archive_open_memory")
            except NotAFrameError as e:
                head = bytes(ctypes.string_at(pin.ptr, min(16, pin.size))) if pin.ptr else b""
                pin.release()
                raise _not_an_archive(e, head, "the data") from None
            except BaseException:
                pin.release()
                raise
            self._pin = pin
        self._handle = h.value
        if base is not None:
            try:
                self.set_base(base)
            except BaseException:
                self.close()
                raise

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Frees the handle and ends the borrows (idempotent)."""
        h, self._handle = self._handle, None
        if h is not None:
            lib().zipnn_archive_free(h)
        for attr in ("_pin", "_base_pin"):
            pin = getattr(self, attr, None)
            if pin is not None:
                pin.release()
                setattr(self, attr, None)

    @property
    def closed(self) -> bool:
        return self._handle is None

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _h(self) -> int:
        if self._handle is None:
            raise InvalidOptionError("the archive is closed", detail="archive")
        return self._handle

    def set_base(self, base: Any) -> None:
        """Gives a delta archive its base model: a path to, or the bytes of, the base's
        uncompressed safetensors file. Bytes are borrowed (kept referenced) until
        :meth:`close` or the next ``set_base``. A base whose tensor differs from the one a
        delta was made against raises BaseMismatchError when that tensor is decoded."""
        h = self._h()
        if _is_pathlike(base):
            _check_file(lib().zipnn_archive_set_base_file(h, _path_arg(base)),
                        "zipnn_archive_set_base_file", base)
            new_pin = None
        else:
            new_pin = Pinned(base)
            if new_pin.size == 0:
                new_pin.release()
                raise BadSafetensorsError(error_string(_ffi.ZIPNN_ERROR_BAD_SAFETENSORS),
                                          detail="base (empty)")
            try:
                _check(lib().zipnn_archive_set_base_memory(h, new_pin.ptr, new_pin.size),
                       "zipnn_archive_set_base_memory")
            except BaseException:
                new_pin.release()
                raise
        old, self._base_pin = self._base_pin, new_pin
        if old is not None:
            old.release()

    # -- listing ----------------------------------------------------------------------------
    def __len__(self) -> int:
        n = ctypes.c_size_t(0)
        _check(lib().zipnn_archive_tensor_count(self._h(), ctypes.byref(n)),
               "zipnn_archive_tensor_count")
        return n.value

    def _info_at(self, index: int) -> _ffi.zipnn_tensor_info:
        ti = _ffi.zipnn_tensor_info()
        ti.struct_size = ctypes.sizeof(_ffi.zipnn_tensor_info)
        _check(lib().zipnn_archive_tensor_info(self._h(), index, ctypes.byref(ti)),
               "zipnn_archive_tensor_info")
        return ti

    @staticmethod
    def _name_of(ti: _ffi.zipnn_tensor_info) -> str:
        return ctypes.string_at(ti.name, ti.name_len).decode("utf-8") if ti.name_len else ""

    def offset_keys(self) -> List[str]:
        """Tensor names in the order of their data in the file."""
        if self._names is None:
            self._names = [self._name_of(self._info_at(i)) for i in range(len(self))]
        return list(self._names)

    def keys(self) -> List[str]:
        """Tensor names, sorted (as ``safetensors.safe_open(...).keys()``)."""
        return sorted(self.offset_keys())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self._index(name)
        except NotFoundError:
            return False
        return True

    def _index(self, name: str) -> int:
        if not isinstance(name, str):
            raise TypeError(f"a tensor name is a str, got {type(name).__name__}")
        raw = name.encode("utf-8")
        idx = ctypes.c_size_t(0)
        st = lib().zipnn_archive_find(self._h(), raw if raw else None, len(raw), ctypes.byref(idx))
        _check(st, f"tensor {name!r}")
        return idx.value

    def info(self, name: str) -> TensorInfo:
        """What tensor ``name`` is (NotFoundError, a KeyError, when there is none)."""
        return self._tensor_info(self._info_at(self._index(name)))

    def infos(self) -> List[TensorInfo]:
        """Every tensor's :class:`TensorInfo`, in data order."""
        return [self._tensor_info(self._info_at(i)) for i in range(len(self))]

    def _tensor_info(self, ti: _ffi.zipnn_tensor_info) -> TensorInfo:
        tied = None
        if ti.flags & _ffi.ZIPNN_TENSOR_TIED:
            tied = self._name_of(self._info_at(ti.tied_to))
        return TensorInfo(
            name=self._name_of(ti),
            dtype=ti.safetensors_dtype.decode("ascii"),
            shape=tuple(ti.shape[i] for i in range(ti.ndim)),
            size=ti.size,
            data_offset=ti.data_offset,
            compressed_size=ti.compressed_size,
            flags=ti.flags,
            tied_to=tied,
            coded_dtype=_dtypes.dtype_name(ti.dtype),
            lossy=LOSSY_NAMES.get(ti.lossy_mode, f"unknown({ti.lossy_mode})"),
            lossy_param=ti.lossy_param,
        )

    def header_json(self) -> bytes:
        """The original JSON header, verbatim (padding included)."""
        p = ctypes.c_void_p()
        n = ctypes.c_size_t(0)
        _check(lib().zipnn_archive_header_json(self._h(), ctypes.byref(p), ctypes.byref(n)),
               "zipnn_archive_header_json")
        return ctypes.string_at(p.value, n.value) if n.value else b""

    def header(self) -> Dict[str, Any]:
        """The parsed JSON header (tensor entries and ``__metadata__``)."""
        if self._header is None:
            self._header = json.loads(self.header_json().decode("utf-8"))
        return self._header

    def metadata(self) -> Optional[Dict[str, str]]:
        """The ``__metadata__`` dict of the original file, or None when it has none (as
        ``safetensors.safe_open(...).metadata()``)."""
        m = self.header().get("__metadata__")
        return dict(m) if m is not None else None

    # -- decoding ---------------------------------------------------------------------------
    def decode_into(self, name: str, dst: Any) -> int:
        """Decodes tensor ``name`` into the writable buffer ``dst`` (bytearray, numpy array,
        CPU tensor, ...; at least its size in bytes); returns the bytes written."""
        index = self._index(name)
        with destination(dst) as (dp, cap):
            return self._decode(index, dp, cap, name)

    def _check_status(self, st: int, what: str) -> None:
        if self.path is not None:
            _check_file(st, what, self.path)
        else:
            _check(st, what)

    def _alloc_size(self, index: int, name: str) -> int:
        """What to allocate for tensor ``index`` (``zipnn_archive_decode_alloc_size``): its
        size after the limit and, for a tensor far larger than its frame, the checksums."""
        n = ctypes.c_size_t(0)
        self._check_status(
            lib().zipnn_archive_decode_alloc_size(self._h(), index, ctypes.byref(n)),
            f"tensor {name!r}")
        return n.value

    def _decode(self, index: int, dp: Any, cap: int, name: str) -> int:
        w = ctypes.c_size_t(0)
        st = lib().zipnn_archive_decode(self._h(), index, dp, cap, ctypes.byref(w))
        self._check_status(st, f"tensor {name!r}")
        return w.value

    def get_tensor(self, name: str, framework: str = "pt", device: Any = "cpu") -> Any:
        """Tensor ``name`` as a torch tensor (``framework`` "pt"/"torch") or a numpy array
        ("np"/"numpy") of its dtype and shape. The archive decodes straight into the new
        array's memory (no other copy); the array is writable and owns its memory. A torch
        tensor is moved to ``device`` afterwards when that is not the CPU. The array is
        allocated only after the library has checked the tensor's size against
        ``max_size`` (LimitExceededError) and, for a tensor far larger than its frame, the
        frame's checksums."""
        index = self._index(name)
        arr, ptr, nbytes = self._empty(index, name, framework, device)
        self._decode(index, ptr, nbytes, name)
        if framework_name(framework) == "torch" and str(device) != "cpu":
            arr = arr.to(device)
        return arr

    def get_tensors(self, names: Any, framework: str = "pt", device: Any = "cpu") -> Dict[str, Any]:
        """Several tensors at once, as a dict in the order of ``names`` (each as
        :meth:`get_tensor` gives it). They are allocated (each through the same size
        checks) and decoded in groups of about 8 MiB, one library call per group, with the
        chunks of all their frames spread over the threads: many small tensors keep every
        core busy as one large tensor does."""
        kind = framework_name(framework)
        names = list(names)
        indices = [self._index(n) for n in names]
        sizes = [self._info_at(i).size for i in indices]
        out: Dict[str, Any] = {}
        start = 0
        while start < len(names):
            end, total = start, 0
            while end < len(names) and (end == start or total + sizes[end] <= _GROUP_BYTES):
                total += sizes[end]
                end += 1
            group = list(zip(indices[start:end], names[start:end]))
            made = [self._empty(i, n, framework, device) for i, n in group]
            count = len(group)
            idx = (ctypes.c_size_t * count)(*[i for i, _ in group])
            ptrs = (ctypes.c_void_p * count)(*[m[1] for m in made])
            caps = (ctypes.c_size_t * count)(*[m[2] for m in made])
            got = (ctypes.c_size_t * count)()
            st = lib().zipnn_archive_decode_many(self._h(), idx, ptrs, caps, count, got)
            if st != 0:
                # Decoded one by one to name the tensor at fault.
                for (_, ptr, nbytes), (i, n) in zip(made, group):
                    self._decode(i, ptr, nbytes, n)
                self._check_status(st, "zipnn_archive_decode_many")
            for (arr, _, _), (_, n) in zip(made, group):
                if kind == "torch" and str(device) != "cpu":
                    arr = arr.to(device)
                out[n] = arr
            start = end
        return out

    def _empty(self, index: int, name: str, framework: str, device: Any) -> Any:
        """A new array for tensor ``index`` (after the library's size checks), its data
        pointer (None when empty) and its length in bytes."""
        kind = framework_name(framework)
        ti = self._info_at(index)
        self._alloc_size(index, name)
        st_dtype = ti.safetensors_dtype.decode("ascii")
        shape = tuple(ti.shape[i] for i in range(ti.ndim))
        if kind == "numpy":
            if str(device) != "cpu":
                raise InvalidOptionError(f"numpy arrays live on the CPU, got device={device!r}",
                                         detail="device")
            import numpy as np

            arr = np.empty(shape, dtype=numpy_dtype(st_dtype))
            nbytes = arr.nbytes
            ptr = arr.ctypes.data if nbytes else None
        else:
            import torch

            arr = torch.empty(shape, dtype=torch_dtype(st_dtype))
            nbytes = arr.numel() * arr.element_size()
            ptr = arr.data_ptr() if nbytes else None
        if nbytes != ti.size:
            raise BadSafetensorsError(
                f"tensor {name!r}: {st_dtype}{list(shape)} is {nbytes} bytes, the archive holds {ti.size}",
                detail=name)
        _advise_huge_pages(ptr, nbytes)
        return arr, ptr, nbytes

    def get_slice(self, name: str, framework: str = "pt") -> "TensorSlice":
        """A lazy view of tensor ``name``: ``get_shape()``, ``get_dtype()`` and indexing
        (``sl[0:2, :]``, ``sl[...]``); see :class:`TensorSlice`."""
        info = self.info(name)
        return TensorSlice(self, name, info, framework_name(framework))

    def numpy(self, name: str) -> Any:
        return self.get_tensor(name, "np")

    def torch(self, name: str, device: Any = "cpu") -> Any:
        return self.get_tensor(name, "pt", device)

    def tensors(self, framework: str = "pt", device: Any = "cpu") -> Dict[str, Any]:
        """Every tensor, in data order, as a dict (see :meth:`get_tensors`)."""
        return self.get_tensors(self.offset_keys(), framework, device)

    def restored_size(self) -> int:
        """Length of the original safetensors file."""
        n = ctypes.c_uint64(0)
        _check(lib().zipnn_archive_restored_size(self._h(), ctypes.byref(n)),
               "zipnn_archive_restored_size")
        return n.value

    def restore_into(self, dst: Any) -> int:
        """Restores the original safetensors file, byte for byte, into the writable buffer
        ``dst`` (at least :meth:`restored_size` bytes); returns its length."""
        w = ctypes.c_size_t(0)
        with destination(dst) as (dp, cap):
            st = lib().zipnn_archive_restore(self._h(), dp, cap, ctypes.byref(w))
            del dp  # ends the export of ``dst`` now
        self._check_status(st, "zipnn_archive_restore")
        return w.value

    def restore(self) -> bytes:
        """The original safetensors file, byte for byte, as ``bytes``, allocated only after
        the library has checked its length against ``max_size`` (the whole file counts)
        and, for a file far larger than the archive, every frame's checksums."""
        size = ctypes.c_size_t(0)
        self._check_status(lib().zipnn_archive_restore_alloc_size(self._h(), ctypes.byref(size)),
                           "zipnn_archive_restore_alloc_size")
        out = OutBytes(size.value)
        w = ctypes.c_size_t(0)
        try:
            st = lib().zipnn_archive_restore(self._h(), out.ptr, size.value, ctypes.byref(w))
            self._check_status(st, "zipnn_archive_restore")
        except BaseException:
            out.discard()
            raise
        return out.finish(w.value)

    def write_to(self, f: Any) -> int:
        """Writes the original safetensors file, byte for byte, to the binary file object
        ``f``, one tensor at a time (memory: the largest tensor, each sized as in
        :meth:`get_tensor`); returns the bytes written. On an error ``f`` may hold part of
        the file."""
        json = self.header_json()
        total = _write_all(f, len(json).to_bytes(8, "little")) + _write_all(f, json)
        buf = bytearray()
        for index, name in enumerate(self.offset_keys()):
            n = self._alloc_size(index, name)
            if len(buf) < n:
                buf = bytearray(n)
            with memoryview(buf) as mv, mv[:n] as view:
                with destination(view) as (dp, cap):
                    w = self._decode(index, dp, cap, name)
                    del dp
                total += _write_all(f, view[:w])
        return total

    def restore_file(self, dst_path: PathLike) -> int:
        """Writes the original safetensors file to ``dst_path`` with :meth:`write_to`,
        through a temporary file renamed into place (removed on any error, a full disk
        included); returns its length."""
        with _TmpFile(dst_path) as f:
            return self.write_to(f)

    def __repr__(self) -> str:
        where = repr(self.path) if self.path is not None else "<memory>"
        state = "closed" if self.closed else f"{len(self)} tensors"
        return f"<zipnn.safetensors.Archive {where} {state}>"


def _is_whole(index: Any) -> bool:
    """Whether ``t[index]`` is all of ``t``: ``...``, ``:``, ``()`` or a tuple of those."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is Ellipsis or (isinstance(p, slice) and p == slice(None)) for p in parts)


class TensorSlice:
    """What :meth:`Archive.get_slice` returns (as ``safetensors``' PySafeSlice). Each
    indexing decodes the tensor (frames are per tensor): ``sl[...]`` or ``sl[:]`` returns
    the decoded tensor itself (no copy: loaders such as ``transformers`` materialize
    weights this way), any other index a compact copy of the part selected. Nothing is
    kept between calls."""

    def __init__(self, archive: Archive, name: str, info: TensorInfo, kind: str) -> None:
        self._archive = archive
        self._name = name
        self._info = info
        self._kind = kind

    def get_shape(self) -> List[int]:
        return list(self._info.shape)

    def get_dtype(self) -> str:
        return self._info.dtype

    def __len__(self) -> int:
        return self._info.shape[0] if self._info.shape else 0

    def __getitem__(self, index: Any) -> Any:
        full = self._archive.get_tensor(self._name, self._kind)
        if _is_whole(index):
            return full
        part = full[index]
        return part.copy() if self._kind == "numpy" else part.clone()


class safe_open(Archive):
    """``safe_open(filename, framework, device="cpu")`` as in the ``safetensors`` package,
    over a zipnn archive: ``keys()``, ``offset_keys()``, ``get_tensor(name)``,
    ``get_slice(name)``, ``metadata()``. Use as a context manager (or call ``close()``).

    Extra keywords: ``base`` (the base model for a delta archive: path or bytes),
    ``threads`` (decode workers, 0 = all cores), ``max_size``. ``filename`` may also be the
    archive's bytes. A plain (uncompressed) safetensors file is refused with a clear
    :class:`~zipnn.NotAFrameError`."""

    def __init__(self, filename: Any, framework: str = "pt", device: Any = "cpu", *,
                 base: Any = None, threads: int = 0, max_size: Optional[int] = None) -> None:
        self._framework = framework_name(framework)
        self._device = device
        if self._framework == "numpy" and str(device) != "cpu":
            raise InvalidOptionError(f"numpy arrays live on the CPU, got device={device!r}",
                                     detail="device")
        super().__init__(filename, base=base, threads=threads, max_size=max_size)

    def get_tensor(self, name: str, framework: Optional[str] = None,  # type: ignore[override]
                   device: Any = None) -> Any:
        return super().get_tensor(name, framework or self._framework,
                                  self._device if device is None else device)

    def get_tensors(self, names: Any, framework: Optional[str] = None,  # type: ignore[override]
                    device: Any = None) -> Dict[str, Any]:
        return super().get_tensors(names, framework or self._framework,
                                   self._device if device is None else device)

    def get_slice(self, name: str, framework: Optional[str] = None) -> TensorSlice:  # type: ignore[override]
        return super().get_slice(name, framework or self._framework)

    def __enter__(self) -> "safe_open":
        return self


# Output bytes Archive.get_tensors decodes per library call.
_GROUP_BYTES = 8 << 20


def open_archive(source: Any, *, base: Any = None, threads: int = 0,
                 max_size: Optional[int] = None) -> Archive:
    """Opens an archive (a path or its bytes); see :class:`Archive`."""
    return Archive(source, base=base, threads=threads, max_size=max_size)


# --- whole-file helpers ------------------------------------------------------------------------
def load_file(filename: Any, device: Any = "cpu", *, framework: str = "pt", base: Any = None,
              threads: int = 0) -> Dict[str, Any]:
    """Every tensor of the archive ``filename`` as a dict of torch tensors on ``device``
    (as ``safetensors.torch.load_file``); ``framework="np"`` gives numpy arrays."""
    with safe_open(filename, framework, device, base=base, threads=threads) as f:
        return f.get_tensors(f.offset_keys())


def load(data: Any, *, framework: str = "pt", base: Any = None, threads: int = 0) -> Dict[str, Any]:
    """As :func:`load_file` for an archive held in memory (as ``safetensors.torch.load``)."""
    if _is_pathlike(data):
        raise TypeError("load() takes the archive's bytes; use load_file() for a path")
    return load_file(data, framework=framework, base=base, threads=threads)


@contextmanager
def _source_or_file(obj: Any) -> Iterator[Any]:
    """A bytes-like object as is, or a path as a read-only memory map of the file."""
    if obj is None:
        yield None
    elif _is_pathlike(obj):
        with _FileView(obj) as view:
            yield view
    else:
        yield obj


def _write_all(f: Any, data: Any) -> int:
    """Writes all of ``data`` to ``f`` (a short write is an error); returns its length."""
    with memoryview(data) as mv, mv.cast("B") as view:
        at = 0
        while at < len(view):
            n = f.write(view[at:])
            if not n:
                raise OSError(f"short write to {getattr(f, 'name', 'the output')!r}")
            at += n
        return at


@contextmanager
def _TmpFile(path: PathLike) -> Iterator[Any]:
    """A binary file beside ``path`` written with ordinary writes (never a memory map, whose
    pages can fail with SIGBUS on a full disk), flushed and synced, then renamed onto
    ``path``; on any error it is removed and ``path`` is left as it was."""
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _archive_options(method: Any, level: Any, threads: int, chunk_size: Optional[int],
                     zstd_level: Optional[int], lz4_level: Optional[int],
                     threshold: Optional[float], lossy: Any, lossy_param: Optional[int],
                     target: Any = None) -> Any:
    opts = make_options(method=method, level=level, threads=threads, chunk_size=chunk_size,
                        zstd_level=zstd_level, lz4_level=lz4_level, threshold=threshold,
                        lossy=lossy, lossy_param=lossy_param, target=target)
    return opts


def _bound(opts: Any, sp: Any, n: int) -> int:
    b = ctypes.c_size_t(0)
    _check(lib().zipnn_safetensors_compress_bound(ctypes.byref(opts), sp, n, ctypes.byref(b)),
           "zipnn_safetensors_compress_bound")
    return b.value


def _compress_call(opts: Any, base: Any, sp: Any, n: int, dp: Any, cap: int) -> int:
    w = ctypes.c_size_t(0)
    bp, bn = base if base is not None else (None, 0)
    if base is not None and bn == 0:
        raise BadSafetensorsError(error_string(_ffi.ZIPNN_ERROR_BAD_SAFETENSORS), detail="base (empty)")
    _check(lib().zipnn_safetensors_compress(ctypes.byref(opts), bp, bn, sp, n, dp, cap, ctypes.byref(w)),
           "zipnn_safetensors_compress")
    return w.value


@contextmanager
def _opt_source(obj: Any) -> Iterator[Any]:
    if obj is None:
        yield None
        return
    with source(obj) as pair:
        yield pair


def compress(data: Any, *, base: Any = None, method: Any = "auto", level: Any = None,
             threads: int = 0, chunk_size: Optional[int] = None, zstd_level: Optional[int] = None,
             lz4_level: Optional[int] = None, threshold: Optional[float] = None,
             lossy: Any = None, lossy_param: Optional[int] = None, target: Any = None) -> bytes:
    """Compresses a safetensors file held in memory (``data``: bytes-like) into an archive
    and returns it. Each tensor is coded with its own dtype; tensors repeating an earlier
    tensor's bytes (tied weights) are stored once. ``base`` (bytes or a path of the base
    model's uncompressed safetensors file): each tensor the base has with the same name,
    dtype and shape is coded as a delta against it, and decoding then needs the same base.
    ``lossy``/``lossy_param`` as for :func:`zipnn.compress`, applied to the float tensors
    (BF16, F16, F32, F64) for which the parameter is valid; the others stay lossless
    (``TensorInfo.lossy`` says what each tensor got). Other options (``target`` included)
    as :func:`zipnn.compress`."""
    opts = _archive_options(method, level, threads, chunk_size, zstd_level, lz4_level, threshold,
                            lossy, lossy_param, target)
    if _is_pathlike(data):
        raise TypeError("compress() takes the file's bytes; use compress_file() for a path")
    with source(data) as (sp, n), _source_or_file(base) as bobj, _opt_source(bobj) as b:
        return _compress_bytes(opts, b, sp, n)


def _compress_bytes(opts: Any, b: Any, sp: Any, n: int) -> bytes:
    """The archive of the safetensors file at ``sp`` (``n`` bytes), as bytes built in place."""
    cap = _bound(opts, sp, n)
    out = OutBytes(cap)
    try:
        w = _compress_call(opts, b, sp, n, out.ptr, cap)
    except BaseException:
        out.discard()
        raise
    return out.finish(w)


def compress_file(src_path: PathLike, dst_path: PathLike, *, base: Any = None, **options: Any) -> int:
    """Compresses the safetensors file ``src_path`` into the archive ``dst_path``; returns
    the archive's length. Options and ``base`` as for :func:`compress`. The input (and a
    base given as a path) is memory-mapped read-only; the archive is made in memory, then
    written through a temporary file renamed into place (nothing is left behind on error,
    a full disk included)."""
    opts = _archive_options(**_with_defaults(options))
    with _FileView(src_path) as data, _source_or_file(base) as bobj, _opt_source(bobj) as b, \
            source(data) as (sp, n):
        archive = _compress_bytes(opts, b, sp, n)
    with _TmpFile(dst_path) as f:
        return _write_all(f, archive)


def _with_defaults(options: Dict[str, Any]) -> Dict[str, Any]:
    allowed = dict(method="auto", level=None, threads=0, chunk_size=None, zstd_level=None,
                   lz4_level=None, threshold=None, lossy=None, lossy_param=None, target=None)
    for k, v in options.items():
        if k not in allowed:
            raise TypeError(
                f"unexpected option {k!r} (archives take {', '.join(allowed)}; dtype and "
                "bg_partitions come from each tensor's dtype)")
        allowed[k] = v
    return allowed


def decompress(data: Any, *, base: Any = None, threads: int = 0) -> bytes:
    """Restores the original safetensors file (bytes) from an archive held in memory;
    ``base`` for a delta archive (bytes or a path)."""
    if _is_pathlike(data):
        raise TypeError("decompress() takes the archive's bytes; use decompress_file() for a path")
    with Archive(data, base=base, threads=threads) as a:
        return a.restore()


def decompress_file(src_path: PathLike, dst_path: PathLike, *, base: Any = None,
                    threads: int = 0, max_size: Optional[int] = None) -> int:
    """Restores the original safetensors file from the archive ``src_path`` into
    ``dst_path`` (byte for byte); returns its length. ``base`` for a delta archive (a path
    or bytes). The archive is read one frame at a time and the output written one tensor at
    a time (:meth:`Archive.write_to`) through a temporary file renamed into place.
    ``max_size`` bounds each tensor (default :data:`zipnn.DEFAULT_FILE_LIMIT`)."""
    with Archive(src_path, base=base, threads=threads, max_size=max_size) as a:
        return a.restore_file(dst_path)
