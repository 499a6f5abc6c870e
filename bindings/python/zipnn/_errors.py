"""Exceptions raised by the zipnn binding.

Every error is a :class:`ZipNNError`. Errors that come from the C library carry the
library's status in ``.code`` (a negative ``ZIPNN_ERROR_*`` value) and its message from
``zipnn_error_string`` in ``.message``. Errors found by the binding itself before any C call
(a bad option value, an unknown dtype name, a legacy option that is not supported yet) use
the status the library would give for the same problem (``ZIPNN_ERROR_INVALID_PARAM`` or
``ZIPNN_ERROR_UNSUPPORTED_*``).
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from . import _ffi


class ZipNNError(Exception):
    """Base class of every zipnn error. ``code`` is the C status (or ``None``)."""

    #: The status this class stands for (subclasses set it; instances may override).
    default_code: Optional[int] = None

    def __init__(self, message: str, code: Optional[int] = None, detail: str = "") -> None:
        self.code = self.default_code if code is None else code
        self.message = message
        self.detail = detail
        text = message
        if detail:
            text = f"{detail}: {message}"
        if self.code is not None:
            text = f"{text} (zipnn status {self.code})"
        super().__init__(text)


class InvalidOptionError(ZipNNError, ValueError):
    """An option or argument is out of range (``ZIPNN_ERROR_INVALID_PARAM``)."""

    default_code = _ffi.ZIPNN_ERROR_INVALID_PARAM


class NullPointerError(InvalidOptionError):
    """A required pointer was NULL (``ZIPNN_ERROR_NULL_POINTER``); a binding bug if seen."""

    default_code = _ffi.ZIPNN_ERROR_NULL_POINTER


class UnsupportedError(ZipNNError):
    """Something this library version does not support."""


class UnsupportedDtypeError(UnsupportedError, ValueError):
    default_code = _ffi.ZIPNN_ERROR_UNSUPPORTED_DTYPE


class UnsupportedMethodError(UnsupportedError, ValueError):
    default_code = _ffi.ZIPNN_ERROR_UNSUPPORTED_METHOD


class UnsupportedVersionError(UnsupportedError):
    default_code = _ffi.ZIPNN_ERROR_UNSUPPORTED_VERSION


class UnsupportedFlagsError(UnsupportedError):
    default_code = _ffi.ZIPNN_ERROR_UNSUPPORTED_FLAGS


class UnsupportedCodecError(UnsupportedError):
    default_code = _ffi.ZIPNN_ERROR_UNSUPPORTED_CODEC


class NotSupportedYetError(UnsupportedError, NotImplementedError):
    """A feature of the reference ``zipnn`` package that this library does not have yet
    (in-memory streaming, GPU, ...). Raised by the binding; ``code`` is
    ``ZIPNN_ERROR_INVALID_PARAM`` because no C call was made."""

    default_code = _ffi.ZIPNN_ERROR_INVALID_PARAM


class DeltaBaseError(ZipNNError, ValueError):
    """A problem with the base of a delta frame or delta archive (parent of the two below)."""


class BaseRequiredError(DeltaBaseError):
    """The data is a delta against a base and no base was given
    (``ZIPNN_ERROR_BASE_REQUIRED``): pass ``base=``."""

    default_code = _ffi.ZIPNN_ERROR_BASE_REQUIRED


class BaseMismatchError(DeltaBaseError):
    """The base given is not the one the delta was made against: another length or content
    (``ZIPNN_ERROR_BASE_MISMATCH``). Nothing was decoded with it."""

    default_code = _ffi.ZIPNN_ERROR_BASE_MISMATCH


class NotFoundError(ZipNNError, KeyError):
    """No tensor of that name in the archive (``ZIPNN_ERROR_NOT_FOUND``). Also a
    ``KeyError``, so ``except KeyError`` works as for a dict of tensors."""

    default_code = _ffi.ZIPNN_ERROR_NOT_FOUND

    def __str__(self) -> str:  # KeyError would show repr(message)
        return Exception.__str__(self)


class FileIOError(ZipNNError, OSError):
    """The library could not open or read a file (``ZIPNN_ERROR_IO``); also an
    ``OSError``. ``filename`` is the path when the binding knows it."""

    default_code = _ffi.ZIPNN_ERROR_IO

    def __init__(self, message: str, code: Optional[int] = None, detail: str = "",
                 filename: Optional[str] = None) -> None:
        super().__init__(message, code=code, detail=detail)
        self.filename = filename

    def __str__(self) -> str:  # OSError's own formatting does not apply (no errno)
        return Exception.__str__(self)


class BufferTooSmallError(ZipNNError, ValueError):
    """The destination buffer is too small (``ZIPNN_ERROR_DST_TOO_SMALL``)."""

    default_code = _ffi.ZIPNN_ERROR_DST_TOO_SMALL


class SourceTooLargeError(ZipNNError, OverflowError):
    default_code = _ffi.ZIPNN_ERROR_SRC_TOO_LARGE


class LimitExceededError(ZipNNError):
    """The frame declares more output than ``max_size`` allows."""

    default_code = _ffi.ZIPNN_ERROR_LIMIT_EXCEEDED


class CorruptDataError(ZipNNError):
    """The input is not a valid frame (``ZIPNN_ERROR_CORRUPT`` and its relatives)."""

    default_code = _ffi.ZIPNN_ERROR_CORRUPT


class NotAFrameError(CorruptDataError):
    default_code = _ffi.ZIPNN_ERROR_BAD_MAGIC


class TruncatedError(CorruptDataError):
    default_code = _ffi.ZIPNN_ERROR_TRUNCATED


class ChecksumError(CorruptDataError):
    default_code = _ffi.ZIPNN_ERROR_CHECKSUM


class AllocationError(ZipNNError, MemoryError):
    default_code = _ffi.ZIPNN_ERROR_ALLOC


class InternalError(ZipNNError):
    default_code = _ffi.ZIPNN_ERROR_INTERNAL


class PanicError(InternalError):
    default_code = _ffi.ZIPNN_ERROR_INTERNAL_PANIC


class BadSafetensorsError(ZipNNError, ValueError):
    """The input is not a valid safetensors file."""

    default_code = _ffi.ZIPNN_ERROR_BAD_SAFETENSORS


class LibraryNotFoundError(ZipNNError, ImportError):
    """The shared library could not be loaded; the message lists every path tried."""


#: C status -> exception class.
ERROR_CLASSES: Dict[int, Type[ZipNNError]] = {
    _ffi.ZIPNN_ERROR_NULL_POINTER: NullPointerError,
    _ffi.ZIPNN_ERROR_INVALID_PARAM: InvalidOptionError,
    _ffi.ZIPNN_ERROR_UNSUPPORTED_DTYPE: UnsupportedDtypeError,
    _ffi.ZIPNN_ERROR_UNSUPPORTED_METHOD: UnsupportedMethodError,
    _ffi.ZIPNN_ERROR_BASE_REQUIRED: BaseRequiredError,
    _ffi.ZIPNN_ERROR_BASE_MISMATCH: BaseMismatchError,
    _ffi.ZIPNN_ERROR_NOT_FOUND: NotFoundError,
    _ffi.ZIPNN_ERROR_DST_TOO_SMALL: BufferTooSmallError,
    _ffi.ZIPNN_ERROR_SRC_TOO_LARGE: SourceTooLargeError,
    _ffi.ZIPNN_ERROR_LIMIT_EXCEEDED: LimitExceededError,
    _ffi.ZIPNN_ERROR_BAD_MAGIC: NotAFrameError,
    _ffi.ZIPNN_ERROR_UNSUPPORTED_VERSION: UnsupportedVersionError,
    _ffi.ZIPNN_ERROR_UNSUPPORTED_FLAGS: UnsupportedFlagsError,
    _ffi.ZIPNN_ERROR_UNSUPPORTED_CODEC: UnsupportedCodecError,
    _ffi.ZIPNN_ERROR_TRUNCATED: TruncatedError,
    _ffi.ZIPNN_ERROR_CORRUPT: CorruptDataError,
    _ffi.ZIPNN_ERROR_CHECKSUM: ChecksumError,
    _ffi.ZIPNN_ERROR_ALLOC: AllocationError,
    _ffi.ZIPNN_ERROR_IO: FileIOError,
    _ffi.ZIPNN_ERROR_INTERNAL: InternalError,
    _ffi.ZIPNN_ERROR_INTERNAL_PANIC: PanicError,
    _ffi.ZIPNN_ERROR_BAD_SAFETENSORS: BadSafetensorsError,
}
