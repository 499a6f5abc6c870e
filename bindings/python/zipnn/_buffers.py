"""Zero-copy access to caller memory, and output objects made without copies.

Sources (never written):
  * ``bytes``: passed straight to the ``c_void_p`` argument (its internal buffer).
  * ``bytearray`` and writable buffers: ``(c_char * n).from_buffer(obj)``.
  * read-only buffers other than ``bytes`` (read-only memoryview, mmap, ...): the
    buffer protocol through ``PyObject_GetBuffer`` (CPython), released after the call.
  * numpy arrays: ``arr.ctypes.data`` when C-contiguous; torch tensors: ``data_ptr()``
    when contiguous and on the CPU. A non-contiguous array is copied once with
    ``np.ascontiguousarray`` / ``Tensor.contiguous()`` (the only copy on input).

The C calls release the GIL (ctypes.CDLL does), so another Python thread may run while
the library reads a source: callers must not mutate a source buffer while a call that
reads it is running.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Tuple

from ._errors import InvalidOptionError


def numpy_module() -> Any:
    """numpy when it is already imported (never imports it)."""
    return sys.modules.get("numpy")


def torch_module() -> Any:
    return sys.modules.get("torch")


def is_numpy_array(obj: Any) -> bool:
    np = numpy_module()
    return np is not None and isinstance(obj, np.ndarray)


def is_torch_tensor(obj: Any) -> bool:
    torch = torch_module()
    return torch is not None and isinstance(obj, torch.Tensor)


# --- CPython buffer protocol for read-only buffers -----------------------------------------
class _Py_buffer(ctypes.Structure):
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


_CPYTHON = sys.implementation.name == "cpython"
_BytesResize: Any = None
if _CPYTHON:
    _api = ctypes.pythonapi
    _GetBuffer = _api.PyObject_GetBuffer
    _GetBuffer.argtypes = [ctypes.py_object, ctypes.POINTER(_Py_buffer), ctypes.c_int]
    _GetBuffer.restype = ctypes.c_int
    _ReleaseBuffer = _api.PyBuffer_Release
    _ReleaseBuffer.argtypes = [ctypes.POINTER(_Py_buffer)]
    _ReleaseBuffer.restype = None
    _BytesNew = _api.PyBytes_FromStringAndSize
    _BytesNew.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
    _BytesNew.restype = ctypes.c_void_p  # a raw new reference, owned by us
    _BytesData = _api.PyBytes_AsString
    _BytesData.argtypes = [ctypes.c_void_p]
    _BytesData.restype = ctypes.c_void_p
    _BytesResize = getattr(_api, "_PyBytes_Resize", None)
    if _BytesResize is not None:
        _BytesResize.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_ssize_t]
        _BytesResize.restype = ctypes.c_int
    _DecRef = _api.Py_DecRef
    _DecRef.argtypes = [ctypes.c_void_p]
    _DecRef.restype = None

#: Build ``bytes`` results in place (no copy) on CPython; tests turn it off to cover the
#: portable path.
FAST_BYTES = bool(_CPYTHON and _BytesResize is not None)


@contextmanager
def source(obj: Any) -> Iterator[Tuple[Any, int]]:
    """Yields (pointer argument, size in bytes) for a read-only source, without copying
    when the memory is contiguous."""
    if isinstance(obj, bytes):
        yield (obj if obj else None), len(obj)
        return
    if is_numpy_array(obj):
        arr = obj if obj.flags.c_contiguous else numpy_module().ascontiguousarray(obj)
        yield (arr.ctypes.data if arr.nbytes else None), arr.nbytes
        del arr
        return
    if is_torch_tensor(obj):
        t = _cpu_tensor(obj)
        if not t.is_contiguous():
            t = t.contiguous()
        n = t.numel() * t.element_size()
        yield (t.data_ptr() if n else None), n
        del t
        return
    if isinstance(obj, bytearray):
        n = len(obj)
        if n == 0:
            yield None, 0
            return
        arr = (ctypes.c_char * n).from_buffer(obj)
        try:
            yield arr, n
        finally:
            del arr
        return
    try:
        mv = memoryview(obj)
    except TypeError:
        raise TypeError(
            f"expected bytes, a bytes-like object, a numpy array or a torch tensor, "
            f"got {type(obj).__name__}"
        ) from None
    with mv:
        if not mv.contiguous:
            # A strided view: one copy to contiguous memory.
            data = mv.tobytes()
            yield (data if data else None), len(data)
            return
        n = mv.nbytes
        if n == 0:
            yield None, 0
            return
        if not mv.readonly:
            flat = mv.cast("B") if (mv.format != "B" or mv.ndim != 1) else mv
            arr = (ctypes.c_char * n).from_buffer(flat)
            try:
                yield arr, n
            finally:
                del arr
                if flat is not mv:
                    flat.release()
            return
        if isinstance(mv.obj, bytes) and n == len(mv.obj):
            yield mv.obj, n
            return
        if _CPYTHON:
            view = _Py_buffer()
            _GetBuffer(mv, ctypes.byref(view), 0)  # PyBUF_SIMPLE: contiguous, read-only ok
            try:
                yield view.buf, view.len
            finally:
                _ReleaseBuffer(ctypes.byref(view))
            return
        data = mv.tobytes()  # other interpreters: one copy
        yield data, len(data)


@contextmanager
def destination(obj: Any) -> Iterator[Tuple[Any, int]]:
    """Yields (pointer argument, capacity in bytes) for a writable, contiguous buffer."""
    if isinstance(obj, bytes):
        raise InvalidOptionError("the destination must be writable (bytes is read-only)", detail="dst")
    if is_numpy_array(obj):
        if not obj.flags.c_contiguous:
            raise InvalidOptionError("the destination array must be C-contiguous", detail="dst")
        if not obj.flags.writeable:
            raise InvalidOptionError("the destination array is read-only", detail="dst")
        yield (obj.ctypes.data if obj.nbytes else None), obj.nbytes
        return
    if is_torch_tensor(obj):
        if obj.device.type != "cpu":
            raise InvalidOptionError("the destination tensor must be on the CPU", detail="dst")
        if not obj.is_contiguous():
            raise InvalidOptionError("the destination tensor must be contiguous", detail="dst")
        n = obj.numel() * obj.element_size()
        yield (obj.data_ptr() if n else None), n
        return
    try:
        mv = memoryview(obj)
    except TypeError:
        raise TypeError(
            f"expected a writable buffer (bytearray, memoryview, numpy array, torch tensor), "
            f"got {type(obj).__name__}"
        ) from None
    with mv:
        if mv.readonly:
            raise InvalidOptionError("the destination buffer is read-only", detail="dst")
        if not mv.c_contiguous:
            raise InvalidOptionError("the destination buffer must be C-contiguous", detail="dst")
        n = mv.nbytes
        if n == 0:
            yield None, 0
            return
        flat = mv.cast("B") if (mv.format != "B" or mv.ndim != 1) else mv
        arr = (ctypes.c_char * n).from_buffer(flat)
        try:
            yield arr, n
        finally:
            del arr
            if flat is not mv:
                flat.release()


def _cpu_tensor(t: Any) -> Any:
    if t.device.type != "cpu":
        return t.cpu()  # a device tensor must come to host memory anyway
    return t


# --- outputs -------------------------------------------------------------------------------
_HUGE_MIN = 4 << 20  # outputs from this size on are advised to be huge pages
_MADV_HUGEPAGE = 14  # <sys/mman.h> on Linux


def _load_madvise() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        f = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    f.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    f.restype = ctypes.c_int
    return f


_MADVISE = _load_madvise()


def advise_huge_pages(addr: int, n: int) -> None:
    """Asks Linux to back a large fresh output with transparent huge pages where the
    system allows it (its ``madvise`` mode, as the library does for the outputs it
    allocates itself): the library then writes the output once, front to back, and one
    4 KiB page fault per 4 KiB written (each zeroing its page) costs more than the
    decoding. Advice only: a failure changes nothing, and the memory's contents are not
    touched."""
    if _MADVISE is None or n < _HUGE_MIN:
        return
    page = mmap.PAGESIZE
    start = (addr + page - 1) // page * page
    end = (addr + n) // page * page
    if end > start:
        _MADVISE(start, end - start, _MADV_HUGEPAGE)


class OutBytes:
    """A ``bytes`` object of ``capacity`` bytes that C code fills in place, then trimmed.

    On CPython the object is created uninitialised with ``PyBytes_FromStringAndSize(NULL,
    n)``, held only as a raw pointer (reference count 1, invisible to other code) while the
    library writes into it, shrunk in place with ``_PyBytes_Resize`` and then handed to
    Python: no copy. Elsewhere (or with FAST_BYTES off) it is a ``bytearray`` that is
    trimmed and copied once into ``bytes``.
    """

    __slots__ = ("_raw", "_ba", "ptr", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._raw: Optional[int] = None
        self._ba: Optional[bytearray] = None
        if FAST_BYTES and capacity >= 2:
            raw = _BytesNew(None, capacity)
            self._raw = raw
            self.ptr: Any = _BytesData(raw)
            advise_huge_pages(self.ptr, capacity)
        else:
            self._ba = bytearray(capacity)
            self.ptr = (ctypes.c_char * capacity).from_buffer(self._ba) if capacity else None

    def finish(self, size: int) -> bytes:
        if self._raw is not None:
            holder = ctypes.c_void_p(self._raw)
            self._raw = None
            if size != self.capacity:
                if size < 2:
                    data = ctypes.string_at(holder.value, size)
                    _DecRef(holder.value)
                    return data
                _BytesResize(ctypes.byref(holder), size)  # frees and raises on failure
            obj = ctypes.cast(holder.value, ctypes.py_object).value  # +1
            _DecRef(holder.value)  # drop our raw reference: obj is the only owner
            return obj
        assert self._ba is not None
        self.ptr = None
        ba = self._ba
        self._ba = None
        del ba[size:]
        return bytes(ba)

    def discard(self) -> None:
        if self._raw is not None:
            _DecRef(self._raw)
            self._raw = None
        self.ptr = None
        self._ba = None

    def __del__(self) -> None:  # backstop: never leak the raw object
        try:
            self.discard()
        except Exception:
            pass


# --- long-lived borrows ---------------------------------------------------------------------
class Pinned:
    """A read-only view of a caller's buffer whose address stays valid until
    :meth:`release`: for C functions that *borrow* memory beyond the call
    (``zipnn_archive_open_memory``, ``zipnn_archive_set_base_memory``).

    Holds a reference to the object (and, for buffers other than ``bytes``, a buffer
    export, which also stops a ``bytearray`` from being resized meanwhile). Contiguous
    memory is never copied; a non-contiguous array or strided view is copied once. The
    caller must not change the bytes while they are pinned."""

    __slots__ = ("obj", "ptr", "size", "_export", "_view")

    def __init__(self, obj: Any) -> None:
        self.obj: Any = None
        self._export: Any = None
        self._view: Optional[_Py_buffer] = None
        self.ptr: Optional[int] = None
        self.size = 0
        if isinstance(obj, bytes):
            self.obj = obj
            self.size = len(obj)
            if obj:
                self.ptr = ctypes.cast(ctypes.c_char_p(obj), ctypes.c_void_p).value
            return
        if is_numpy_array(obj):
            arr = obj if obj.flags.c_contiguous else numpy_module().ascontiguousarray(obj)
            self.obj, self.size = arr, arr.nbytes
            self.ptr = arr.ctypes.data if arr.nbytes else None
            return
        if is_torch_tensor(obj):
            t = _cpu_tensor(obj)
            if not t.is_contiguous():
                t = t.contiguous()
            self.obj, self.size = t, t.numel() * t.element_size()
            self.ptr = t.data_ptr() if self.size else None
            return
        try:
            mv = memoryview(obj)
        except TypeError:
            raise TypeError(
                f"expected bytes, a bytes-like object, a numpy array or a torch tensor, "
                f"got {type(obj).__name__}"
            ) from None
        if not mv.contiguous:
            data = mv.tobytes()
            mv.release()
            self.__init__(data)  # type: ignore[misc]
            return
        n = mv.nbytes
        self.obj, self.size = obj, n
        if n == 0:
            mv.release()
            return
        if not mv.readonly:
            flat = mv.cast("B") if (mv.format != "B" or mv.ndim != 1) else mv
            arr = (ctypes.c_char * n).from_buffer(flat)
            self._export = (arr, flat, mv)
            self.ptr = ctypes.addressof(arr)
            return
        if _CPYTHON:
            view = _Py_buffer()
            _GetBuffer(mv, ctypes.byref(view), 0)
            self._view = view
            self._export = mv
            self.ptr = view.buf
            return
        mv.release()
        self.__init__(bytes(obj))  # type: ignore[misc]  # other interpreters: one copy

    def release(self) -> None:
        """Ends the borrow (idempotent): the C side must no longer use the address."""
        view, self._view = self._view, None
        if view is not None:
            _ReleaseBuffer(ctypes.byref(view))
        export, self._export = self._export, None
        if isinstance(export, tuple):
            arr, flat, mv = export
            export = None
            del arr  # the last reference: the array's export of ``flat`` ends here
            if flat is not mv:
                flat.release()
            mv.release()
        elif export is not None:
            export.release()
        self.obj = None
        self.ptr = None
        self.size = 0

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:
            pass
