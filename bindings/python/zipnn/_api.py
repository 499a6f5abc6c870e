"""The Python API over the C ABI (see the package docstring for the summary)."""

from __future__ import annotations

import ctypes
import mmap
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple, Union

from . import _dtypes, _ffi
from ._buffers import OutBytes, destination, source
from ._errors import (
    ERROR_CLASSES,
    InternalError,
    InvalidOptionError,
    UnsupportedMethodError,
    ZipNNError,
)
from ._lib import lib

METHODS: Dict[str, int] = {
    "auto": _ffi.ZIPNN_METHOD_AUTO,
    "huffman": _ffi.ZIPNN_METHOD_HUFFMAN,
    "zstd": _ffi.ZIPNN_METHOD_ZSTD,
    "lz4": _ffi.ZIPNN_METHOD_LZ4,
    "snappy": _ffi.ZIPNN_METHOD_SNAPPY,
    "raw": _ffi.ZIPNN_METHOD_RAW,
}
LEVELS: Dict[str, int] = {"default": 0, "fast": 1, "max": 3}
LOSSY_MODES: Dict[str, int] = {
    "none": _ffi.ZIPNN_LOSSY_NONE,
    "integer": _ffi.ZIPNN_LOSSY_INTEGER,
    "mantissa": _ffi.ZIPNN_LOSSY_MANTISSA,
}
LOSSY_NAMES: Dict[int, str] = {v: k for k, v in LOSSY_MODES.items()}
#: ``target=`` names: the processors a frame is laid out to decode fastest on. "any" (the
#: default) decodes fast everywhere; "avx512" decodes faster on x86-64 processors with
#: AVX-512 VBMI and VBMI2 (AMD Zen 4 and later, Intel Ice Lake and later) and slower on
#: others. Every frame decodes on every processor to the same bytes.
TARGETS: Dict[str, int] = {
    "any": _ffi.ZIPNN_TARGET_ANY,
    "avx512": _ffi.ZIPNN_TARGET_AVX512,
}

PathLike = Union[str, "os.PathLike[str]"]


# --- errors --------------------------------------------------------------------------------
def error_string(status: int) -> str:
    """The library's message for a status (``zipnn_error_string``)."""
    return lib().zipnn_error_string(status).decode("utf-8", "replace")


def _check(status: int, what: str) -> None:
    if status != _ffi.ZIPNN_OK:
        cls = ERROR_CLASSES.get(status, ZipNNError)
        raise cls(error_string(status), code=status, detail=what)


# --- options -------------------------------------------------------------------------------
def _uint(name: str, value: Any, bits: int = 32) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionError(f"{name} must be an integer, got {value!r}", detail=name)
    if not 0 <= value < (1 << bits):
        raise InvalidOptionError(f"{name} out of range: {value}", detail=name)
    return value


def _int32(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionError(f"{name} must be an integer, got {value!r}", detail=name)
    if not -(1 << 31) <= value < (1 << 31):
        raise InvalidOptionError(f"{name} out of range: {value}", detail=name)
    return value


def _method_code(method: Any) -> int:
    if isinstance(method, str):
        code = METHODS.get(method.strip().lower())
        if code is None:
            raise UnsupportedMethodError(
                f"unknown method {method!r}; expected one of {', '.join(METHODS)}", detail="method"
            )
        return code
    return _uint("method", method)


def _level_code(level: Any) -> int:
    if level is None:
        return _ffi.ZIPNN_LEVEL_DEFAULT
    if isinstance(level, str):
        code = LEVELS.get(level.strip().lower())
        if code is None:
            raise InvalidOptionError(f"unknown level {level!r}; expected 0-3 or {', '.join(LEVELS)}",
                                     detail="level")
        return code
    return _int32("level", level)


def _target_code(target: Any) -> int:
    if target is None:
        return _ffi.ZIPNN_TARGET_ANY
    if isinstance(target, str):
        code = TARGETS.get(target.strip().lower().replace("-", ""))
        if code is None:
            raise InvalidOptionError(
                f"unknown target {target!r}; expected one of {', '.join(TARGETS)}", detail="target")
        return code
    return _uint("target", target)


def _lossy_codes(lossy: Any, lossy_param: Any) -> Tuple[int, int]:
    """(lossy_mode, lossy_param) for the ``lossy=``/``lossy_param=`` options."""
    if lossy is None or lossy is False:
        mode = _ffi.ZIPNN_LOSSY_NONE
    elif isinstance(lossy, str):
        key = lossy.strip().lower()
        if key not in LOSSY_MODES:
            raise InvalidOptionError(
                f"unknown lossy mode {lossy!r}; expected one of {', '.join(LOSSY_MODES)}",
                detail="lossy")
        mode = LOSSY_MODES[key]
    else:
        mode = _uint("lossy", lossy)
    if mode == _ffi.ZIPNN_LOSSY_NONE:
        if lossy_param not in (None, 0):
            raise InvalidOptionError("lossy_param is set but lossy is not", detail="lossy_param")
        return mode, 0
    if lossy_param is None:
        raise InvalidOptionError(
            f"lossy={LOSSY_NAMES.get(mode, mode)!r} needs lossy_param (the fractional bits "
            "kept for 'integer', the mantissa bits kept for 'mantissa')", detail="lossy_param")
    return mode, _uint("lossy_param", lossy_param)


def make_options(
    *,
    dtype_code: int = _ffi.ZIPNN_DTYPE_RAW,
    method: Any = "auto",
    level: Any = None,
    threads: int = 0,
    chunk_size: Optional[int] = None,
    zstd_level: Optional[int] = None,
    lz4_level: Optional[int] = None,
    threshold: Optional[float] = None,
    bg_partitions: Optional[int] = None,
    max_size: Optional[int] = None,
    lossy: Any = None,
    lossy_param: Optional[int] = None,
    target: Any = None,
) -> _ffi.zipnn_options:
    """A ``zipnn_options`` from keyword values (None = the library default)."""
    o = _ffi.zipnn_options()
    lib().zipnn_options_init(ctypes.byref(o))
    o.dtype = _uint("dtype", dtype_code)
    o.method = _method_code(method)
    o.level = _level_code(level)
    o.threads = _uint("threads", threads)
    if chunk_size is not None:
        o.chunk_size = _uint("chunk_size", chunk_size)
    if zstd_level is not None:
        o.zstd_level = _int32("zstd_level", zstd_level)
    if lz4_level is not None:
        o.lz4_level = _int32("lz4_level", lz4_level)
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise InvalidOptionError(f"threshold must be a number, got {threshold!r}", detail="threshold")
        o.threshold = float(threshold)
    if bg_partitions is not None:
        o.bg_partitions = _uint("bg_partitions", bg_partitions)
    if max_size is not None:
        o.max_decompressed_size = _uint("max_size", max_size, 64)
    o.lossy_mode, o.lossy_param = _lossy_codes(lossy, lossy_param)
    o.target = _target_code(target)
    return o


class _Prepared:
    """What compress() works out before the C call: options, metadata, array kind."""

    __slots__ = ("opts", "meta")

    def __init__(self, data: Any, dtype: Any, metadata: Any, bg_partitions: Optional[int],
                 kw: Dict[str, Any]) -> None:
        desc = _dtypes.array_description(data)
        if dtype is None and desc is not None:
            lib_name, bg = _dtypes.lib_dtype_for_element(desc["dtype"], desc["_itemsize"])
            code = _dtypes.DTYPE_CODES[lib_name]
        else:
            code, bg = _dtypes.resolve(dtype)
        if bg_partitions is None:
            bg_partitions = bg
        self.opts = make_options(dtype_code=code, bg_partitions=bg_partitions, **kw)
        self.meta = _dtypes.encode_metadata(desc, metadata)


_LOSSY_HINT = (
    "options (lossy needs a float dtype: bf16, fp16, fp32 or fp64; 'integer' lossy_param "
    "at most 14 for 16-bit floats, 30 for fp32, 62 for fp64; 'mantissa' lossy_param below "
    "7, 10, 23, 52 for bf16, fp16, fp32, fp64)"
)


def _bound(n: int, opts: _ffi.zipnn_options, meta: Optional[bytes]) -> int:
    b = ctypes.c_size_t(0)
    st = lib().zipnn_compress_bound(ctypes.byref(opts), n, ctypes.byref(b))
    if st == _ffi.ZIPNN_ERROR_INVALID_PARAM and opts.lossy_mode != _ffi.ZIPNN_LOSSY_NONE:
        raise InvalidOptionError(error_string(st), code=st, detail=_LOSSY_HINT)
    _check(st, "zipnn_compress_bound")
    return b.value + (len(meta) if meta else 0)


def _compress_call(opts: _ffi.zipnn_options, meta: Optional[bytes], src: Any, n: int,
                   dst: Any, cap: int, base: Any = None) -> int:
    """One frame of ``src`` into ``dst``; ``base`` (a ``(pointer, size)`` pair from
    ``source()``) makes it a delta frame."""
    w = ctypes.c_size_t(0)
    if base is not None:
        bp, bn = base
        st = lib().zipnn_compress_delta(ctypes.byref(opts), bp, bn, meta or None,
                                        len(meta) if meta else 0, src, n, dst, cap, ctypes.byref(w))
        _check(st, "zipnn_compress_delta")
    elif meta:
        st = lib().zipnn_compress_with_metadata(
            ctypes.byref(opts), meta, len(meta), src, n, dst, cap, ctypes.byref(w))
        _check(st, "zipnn_compress_with_metadata")
    else:
        st = lib().zipnn_compress(ctypes.byref(opts), src, n, dst, cap, ctypes.byref(w))
        _check(st, "zipnn_compress")
    return w.value


# --- compression ---------------------------------------------------------------------------
def compress(
    data: Any,
    *,
    dtype: Any = None,
    method: Any = "auto",
    level: Any = None,
    threads: int = 0,
    chunk_size: Optional[int] = None,
    metadata: Any = None,
    zstd_level: Optional[int] = None,
    lz4_level: Optional[int] = None,
    threshold: Optional[float] = None,
    bg_partitions: Optional[int] = None,
    lossy: Any = None,
    lossy_param: Optional[int] = None,
    base: Any = None,
    target: Any = None,
) -> bytes:
    """Compresses ``data`` into one zipnn frame and returns it as ``bytes``.

    ``data``: bytes, bytearray, memoryview or any buffer, a numpy array or a torch tensor.
    Contiguous input is read in place (never copied, never modified); a non-contiguous
    array or view is copied once to contiguous memory first.

    ``dtype``: "raw", "bf16", "fp16", "fp32", "fp64", "fp8_e4m3", "fp8_e5m2", "int8",
    "uint8" (or an alias such as "bfloat16"/"float32", or a numpy/torch dtype). Default:
    taken from an array's dtype, else "raw". ``method``: "auto" (default), "huffman",
    "zstd", "lz4", "snappy", "raw". ``level``: None/"default"/2, "fast"/1, "max"/3.
    ``threads``: 0 = all cores, 1 = the calling thread only. ``chunk_size``: bytes per
    chunk (default automatic: 2097152 for one-byte dtypes at the default level of "auto",
    else 262144). ``zstd_level``, ``lz4_level``, ``threshold`` (keep a coded
    plane only below this fraction of raw; not applied at level "max") and
    ``bg_partitions`` (byte grouping for "raw": 1, 2, 4, 8) map to the fields of
    ``zipnn_options``. ``target``: the processors the frame is laid out to decode fastest
    on, None/"any"/0 (the default: fast everywhere) or "avx512"/1 (faster on x86-64 with
    AVX-512 VBMI and VBMI2: AMD Zen 4 and later, Intel Ice Lake and later; slower on other
    processors); every frame decodes on every processor to the same bytes.

    ``lossy`` (opt-in, float dtypes bf16/fp16/fp32/fp64 only; default None = lossless):

      * ``"integer"`` with ``lossy_param=f``: fixed point, each value stored as
        ``round_half_even(x * 2**f)``; absolute error at most ``2**-(f+1)`` plus half an
        ulp of the dtype. ``f`` at most 14 for bf16/fp16, 30 for fp32, 62 for fp64. If a
        value is not finite or does not fit, the data is coded losslessly instead (the
        frame's ``FrameInfo.lossy`` then says "none").
      * ``"mantissa"`` with ``lossy_param=k``: keep ``k`` mantissa bits, round to nearest
        even; relative error at most ``2**-(k+1)``. ``k`` below 7, 10, 23, 52 for bf16,
        fp16, fp32, fp64.

    ``base``: compress ``data`` as a delta against ``base`` (bytes-like, numpy array or
    torch tensor of exactly the same byte length, e.g. the same tensor of the base model).
    The frame codes ``data XOR base`` and records a hash of ``base``; only
    ``decompress(frame, base=base)`` with the same base restores it (plain decompress
    raises BaseRequiredError, another base BaseMismatchError). A different length raises
    BaseMismatchError. ``base`` is read only, never modified.

    ``metadata``: bytes stored verbatim in the frame (bytes input), or a JSON-serialisable
    dict. For an array the frame always carries ``{"dtype", "shape", "lib"}`` (see
    ``zipnn._dtypes``) so that ``decompress(..., out="numpy"|"torch"|"auto")`` rebuilds
    it; a dict ``metadata`` is stored under "user" beside them.

    The output is built in place: no copy of the compressed bytes on CPython (see
    ``zipnn._buffers.OutBytes``). The GIL is released during the C call; do not mutate
    ``data`` from another thread meanwhile.
    """
    p = _Prepared(data, dtype, metadata, bg_partitions, dict(
        method=method, level=level, threads=threads, chunk_size=chunk_size,
        zstd_level=zstd_level, lz4_level=lz4_level, threshold=threshold, lossy=lossy,
        lossy_param=lossy_param, target=target))
    with source(data) as (src, n), _optional_source(base) as b:
        cap = _bound(n, p.opts, p.meta)
        out = OutBytes(cap)
        try:
            w = _compress_call(p.opts, p.meta, src, n, out.ptr, cap, b)
        except BaseException:
            out.discard()
            raise
    return out.finish(w)


@contextmanager
def _optional_source(obj: Any) -> Iterator[Any]:
    """``source(obj)`` as a ``(pointer, size)`` pair, or None when ``obj`` is None."""
    if obj is None:
        yield None
        return
    with source(obj) as pair:
        yield pair


def compress_into(dst: Any, src: Any, **options: Any) -> int:
    """Compresses ``src`` into the writable buffer ``dst`` (bytearray, writable
    memoryview, C-contiguous numpy array, contiguous CPU tensor) and returns the frame's
    length. Same options as :func:`compress`. ``compress_bound(len(src), ...)`` bytes are
    always enough; a smaller ``dst`` raises :class:`BufferTooSmallError` when the frame
    does not fit (``dst`` is then left unchanged)."""
    dtype = options.pop("dtype", None)
    metadata = options.pop("metadata", None)
    bg = options.pop("bg_partitions", None)
    base = options.pop("base", None)
    p = _Prepared(src, dtype, metadata, bg, options)
    with source(src) as (sp, n), _optional_source(base) as b, destination(dst) as (dp, cap):
        return _compress_call(p.opts, p.meta, sp, n, dp, cap, b)


def compress_bound(size: int, **options: Any) -> int:
    """The most bytes :func:`compress` can produce for ``size`` input bytes with these
    options (plus the metadata block, if ``metadata=`` bytes are given). A delta frame
    (``base=``) has the same bound."""
    options.pop("base", None)
    dtype = options.pop("dtype", None)
    metadata = options.pop("metadata", None)
    bg = options.pop("bg_partitions", None)
    code, dbg = _dtypes.resolve(dtype)
    opts = make_options(dtype_code=code, bg_partitions=dbg if bg is None else bg, **options)
    meta = _dtypes.encode_metadata(None, metadata)
    return _bound(_uint("size", size, 64), opts, meta)


# --- frame inspection ----------------------------------------------------------------------
@dataclass(frozen=True)
class FrameInfo:
    """The header of a frame (``zipnn_frame_info``)."""

    format_version: int
    dtype: str  #: library dtype name ("bf16", ...; "unknown(N)" for a code this binding lacks)
    dtype_code: int
    flags: int
    planes: int
    chunk_size: int
    original_size: int
    chunk_count: int
    frame_size: int
    metadata_size: int
    lossy: str = "none"  #: "none" (bit-exact), "integer" or "mantissa"
    lossy_mode: int = 0  #: ZIPNN_LOSSY_* code
    lossy_param: int = 0  #: integer mode: fractional bits; mantissa mode: mantissa bits kept
    base_hash: int = 0  #: for a delta frame, XXH3-64 of the base it needs; else 0
    #: "zipnn", or "reference" for what the reference package (PyPI zipnn 0.5.x) wrote:
    #: one frame or its streamed frames, without checksums (sizes are the whole sequence's)
    format: str = "zipnn"
    #: reference frames: "bytes", "torch" or "numpy" (what its writer was handed; the last
    #: two carry a shape, see :func:`tensor_shape`); "" for zipnn frames
    reference_input: str = ""

    @property
    def has_metadata(self) -> bool:
        return bool(self.flags & _ffi.ZIPNN_FRAME_FLAG_METADATA)

    @property
    def is_delta(self) -> bool:
        """The frame is a delta against a base (decompress it with ``base=``)."""
        return bool(self.flags & _ffi.ZIPNN_FRAME_FLAG_DELTA)

    @property
    def is_lossy(self) -> bool:
        """The data went through a lossy step (``lossy``/``lossy_param`` say which)."""
        return bool(self.flags & _ffi.ZIPNN_FRAME_FLAG_LOSSY)


def frame_info(data: Any) -> FrameInfo:
    """Reads the header of the frame at the start of ``data`` (bytes after it allowed);
    validates the header and its checksum, decodes nothing."""
    info = _ffi.zipnn_frame_info()
    info.struct_size = ctypes.sizeof(_ffi.zipnn_frame_info)
    with source(data) as (src, n):
        _check(lib().zipnn_get_frame_info(src, n, ctypes.byref(info)), "zipnn_get_frame_info")
    return FrameInfo(
        format_version=info.format_version,
        dtype=_dtypes.dtype_name(info.dtype),
        dtype_code=info.dtype,
        flags=info.flags,
        planes=info.planes,
        chunk_size=info.chunk_size,
        original_size=info.original_size,
        chunk_count=info.chunk_count,
        frame_size=info.frame_size,
        metadata_size=info.metadata_size,
        lossy=LOSSY_NAMES.get(info.lossy_mode, f"unknown({info.lossy_mode})"),
        lossy_mode=info.lossy_mode,
        lossy_param=info.lossy_param,
        base_hash=info.base_hash,
        format="reference" if info.format == _ffi.ZIPNN_FORMAT_REFERENCE else "zipnn",
        reference_input=_REFERENCE_INPUTS.get(info.input_format, ""),
    )


_REFERENCE_INPUTS = {_ffi.ZIPNN_INPUT_BYTES: "bytes", _ffi.ZIPNN_INPUT_TORCH: "torch",
                     _ffi.ZIPNN_INPUT_NUMPY: "numpy"}


def _shape(src: Any, n: int) -> Optional[Tuple[int, ...]]:
    dims = (ctypes.c_uint64 * 64)()
    nd = ctypes.c_size_t(0)
    st = lib().zipnn_get_shape(src, n, dims, 64, ctypes.byref(nd))
    if st == _ffi.ZIPNN_ERROR_NOT_FOUND:
        return None
    _check(st, "zipnn_get_shape")
    return tuple(int(d) for d in dims[: nd.value])


def tensor_shape(data: Any) -> Optional[Tuple[int, ...]]:
    """The shape a frame of the reference package carries (it wrote one for torch tensors
    and numpy arrays), or None."""
    with source(data) as (src, n):
        return _shape(src, n)


def _reference_doc(src: Any, n: int) -> Optional[Dict[str, Any]]:
    """For a reference frame of a torch tensor or numpy array: the array description
    (dtype, shape, library) its header gives, as array metadata would; else None."""
    info = _ffi.zipnn_frame_info()
    info.struct_size = ctypes.sizeof(_ffi.zipnn_frame_info)
    _check(lib().zipnn_get_frame_info(src, n, ctypes.byref(info)), "zipnn_get_frame_info")
    kind = _REFERENCE_INPUTS.get(info.input_format)
    if info.format != _ffi.ZIPNN_FORMAT_REFERENCE or kind not in ("torch", "numpy"):
        return None
    name = _dtypes.dtype_name(info.dtype)
    return {"dtype": _dtypes.FRAME_ELEMENT.get(name, "uint8"), "lib": kind,
            "shape": list(_shape(src, n) or ())}


def convert(data: Any, *, base: Any = None, level: Any = None, method: Any = "auto",
            threads: int = 0, chunk_size: Optional[int] = None, target: Any = None) -> bytes:
    """Rewrites what the reference package (PyPI zipnn 0.5.x) wrote in zipnn's format, with
    checksums: its frames (one, or its streamed frames: its ``.znn`` files) become one zipnn
    frame (a tensor frame keeps its dtype and shape as array metadata, so
    ``decompress(out="auto")`` gives the tensor back); a delta frame a zipnn delta against
    ``base`` (the base it was made against); its compressed safetensors files and
    ``model.safetensors.znn`` a zipnn archive (:mod:`zipnn.safetensors`). Raises
    NotAFrameError for anything else."""
    opts = make_options(method=method, level=level, threads=threads, chunk_size=chunk_size,
                        target=target)
    with source(data) as (src, n), _optional_source(base) as b:
        bound = ctypes.c_size_t(0)
        _check(lib().zipnn_convert_bound(ctypes.byref(opts), src, n, ctypes.byref(bound)),
               "zipnn_convert_bound")
        bp, bn = b if b is not None else (None, 0)
        o = OutBytes(bound.value)
        try:
            w = ctypes.c_size_t(0)
            _check(lib().zipnn_convert(ctypes.byref(opts), bp, bn, src, n, o.ptr, bound.value,
                                       ctypes.byref(w)), "zipnn_convert")
        except BaseException:
            o.discard()
            raise
        return o.finish(w.value)


def decompressed_size(data: Any) -> int:
    """The decompressed size the frame declares (header validated, nothing decoded)."""
    size = ctypes.c_uint64(0)
    with source(data) as (src, n):
        _check(lib().zipnn_get_decompressed_size(src, n, ctypes.byref(size)),
               "zipnn_get_decompressed_size")
    return size.value


def _metadata(src: Any, n: int) -> bytes:
    info = _ffi.zipnn_frame_info()
    info.struct_size = ctypes.sizeof(_ffi.zipnn_frame_info)
    _check(lib().zipnn_get_frame_info(src, n, ctypes.byref(info)), "zipnn_get_frame_info")
    cap = info.metadata_size
    if cap == 0:
        return b""
    buf = ctypes.create_string_buffer(cap)
    w = ctypes.c_size_t(0)
    _check(lib().zipnn_get_metadata(src, n, buf, cap, ctypes.byref(w)), "zipnn_get_metadata")
    return buf.raw[: w.value]


def get_metadata(data: Any) -> bytes:
    """The frame's metadata block (b"" when it has none)."""
    with source(data) as (src, n):
        return _metadata(src, n)


def array_metadata(data: Any) -> Optional[Dict[str, Any]]:
    """The array description this binding stored ({"dtype","shape","lib",...}) or None."""
    return _dtypes.decode_metadata(get_metadata(data))


def verify(data: Any) -> bool:
    """Checks the frame that fills ``data`` exactly (header, table, every chunk checksum)
    without decoding. Returns True; raises the frame's error (e.g. ChecksumError)."""
    with source(data) as (src, n):
        _check(lib().zipnn_verify(src, n), "zipnn_verify")
    return True


# --- decompression -------------------------------------------------------------------------
def _decompress_call(src: Any, n: int, dst: Any, cap: int, threads: int,
                     max_size: Optional[int], base: Any = None) -> int:
    """Decodes the frame ``src`` into ``dst``; ``base`` (a ``(pointer, size)`` pair) is
    given to zipnn_decompress_delta."""
    w = ctypes.c_size_t(0)
    if base is not None:
        opts = make_options(threads=threads, max_size=max_size)
        bp, bn = base
        st = lib().zipnn_decompress_delta(ctypes.byref(opts), bp, bn, src, n, dst, cap, ctypes.byref(w))
        _check(st, "zipnn_decompress_delta")
    elif threads == 0 and max_size is None:
        st = lib().zipnn_decompress(src, n, dst, cap, ctypes.byref(w))
        _check(st, "zipnn_decompress")
    else:
        opts = make_options(threads=threads, max_size=max_size)
        st = lib().zipnn_decompress_with_options(ctypes.byref(opts), src, n, dst, cap, ctypes.byref(w))
        _check(st, "zipnn_decompress_with_options")
    return w.value


#: The library verifies a frame's (or an archive tensor's) checksums before the binding
#: allocates its output when it declares at least this many times its own length
#: (``zipnn_decompress_alloc_size``), so that a damaged one raises ChecksumError without
#: the allocation; smaller ones are checked once, by the decode itself.
PRE_VERIFY_RATIO = _ffi.ZIPNN_PRE_VERIFY_RATIO

#: The ``max_size`` that archives and frames read from files get when none is given
#: (4 GiB, above the largest tensor of today's public models): a stranger's file cannot
#: make the process allocate more with default settings. Pass a larger ``max_size``, or
#: :data:`NO_LIMIT`, to read larger ones.
DEFAULT_FILE_LIMIT = _ffi.ZIPNN_DEFAULT_FILE_LIMIT

#: ``max_size`` for no limit at all.
NO_LIMIT = _ffi.ZIPNN_NO_LIMIT


def _alloc_size(src: Any, n: int, threads: int, max_size: Optional[int]) -> int:
    """What to allocate for the frame ``src``: its declared size after the library applied
    ``max_size`` and (see PRE_VERIFY_RATIO) checked its checksums
    (``zipnn_decompress_alloc_size``)."""
    opts = make_options(threads=threads, max_size=max_size)
    size = ctypes.c_size_t(0)
    _check(lib().zipnn_decompress_alloc_size(ctypes.byref(opts), src, n, ctypes.byref(size)),
           "zipnn_decompress_alloc_size")
    return size.value


def decompress(
    data: Any,
    *,
    out: str = "bytes",
    threads: int = 0,
    max_size: Optional[int] = None,
    dtype: Any = None,
    shape: Optional[Sequence[int]] = None,
    base: Any = None,
) -> Any:
    """Decompresses one frame (``data`` must hold exactly one frame).

    ``out``:
      * "bytes" (default): ``bytes``, built in place (no copy on CPython).
      * "bytearray": a ``bytearray``.
      * "numpy" / "torch": an array of the frame's dtype and shape, from the array
        metadata written by :func:`compress`, else from ``dtype``/``shape`` given here,
        else 1-D of the frame's library dtype ("raw" gives uint8). bfloat16/float8 in
        numpy need ml_dtypes. The array owns fresh memory the frame was decoded into.
      * "auto": the kind recorded in the frame's array metadata ("numpy"/"torch"), or
        ``bytes`` when the frame has none.

    A frame the reference package (PyPI zipnn 0.5.x) wrote decodes too (one frame or its
    streamed frames; it has no checksum); one of a torch tensor or numpy array gives its
    dtype and shape as array metadata would.

    ``threads``: 0 = all cores. ``max_size``: refuse (LimitExceededError) a frame that
    declares more output. The GIL is released while decoding.

    ``base``: the base a delta frame was made against (``compress(..., base=)``): bytes,
    buffer, numpy array or torch tensor of the original's length. Its length and hash are
    checked before anything is written (BaseMismatchError for another base); a delta frame
    without ``base`` raises BaseRequiredError. A frame that is not a delta ignores ``base``.

    The output is allocated at the size the frame's header declares. A frame declaring
    at least :data:`PRE_VERIFY_RATIO` times its own length is verified first, so a
    damaged one raises ChecksumError without that allocation; a valid (or crafted) frame
    can still declare millions of times its length, so pass ``max_size`` for untrusted
    input.
    """
    if out not in ("bytes", "bytearray", "numpy", "torch", "auto"):
        raise InvalidOptionError(
            f"out must be 'bytes', 'bytearray', 'numpy', 'torch' or 'auto', got {out!r}", detail="out")
    threads = _uint("threads", threads)
    with source(data) as (src, n), _optional_source(base) as b:
        size = _alloc_size(src, n, threads, max_size)
        if out == "bytes":
            o = OutBytes(size)
            try:
                w = _decompress_call(src, n, o.ptr, size, threads, max_size, b)
            except BaseException:
                o.discard()
                raise
            return o.finish(w)
        if out == "bytearray":
            ba = bytearray(size)
            with destination(ba) as (dp, cap):
                w = _decompress_call(src, n, dp, cap, threads, max_size, b)
            del ba[w:]
            return ba
        doc = _dtypes.decode_metadata(_metadata(src, n)) if (dtype is None or shape is None) else None
        if doc is None and (dtype is None or shape is None):
            doc = _reference_doc(src, n)
        kind = out
        if out == "auto":
            if doc is None or doc.get("lib") not in ("numpy", "torch"):
                o = OutBytes(size)
                try:
                    w = _decompress_call(src, n, o.ptr, size, threads, max_size, b)
                except BaseException:
                    o.discard()
                    raise
                return o.finish(w)
            kind = doc["lib"]
        elem = None
        if dtype is not None:
            elem = dtype
        elif doc is not None:
            elem = doc.get("dtype")
        if elem is None:
            info = frame_info(data)
            elem = _dtypes.FRAME_ELEMENT.get(info.dtype, "uint8")
        if shape is None and doc is not None and dtype is None:
            shape = doc.get("shape")
        arr = _empty_array(kind, elem, shape, size)
        with destination(arr) as (dp, cap):
            _decompress_call(src, n, dp, cap, threads, max_size, b)
        return arr


def _empty_array(kind: str, elem: Any, shape: Optional[Sequence[int]], size: int) -> Any:
    if kind == "numpy":
        import numpy as np

        dt = _dtypes.numpy_dtype(elem) if isinstance(elem, str) else np.dtype(elem)
        itemsize = dt.itemsize
    else:
        import torch

        dt = _dtypes.torch_dtype(elem)
        itemsize = torch.empty((), dtype=dt).element_size()
    if shape is None:
        if size % itemsize:
            raise InvalidOptionError(
                f"{size} decompressed bytes are not a whole number of {elem} elements", detail="dtype")
        shape = (size // itemsize,)
    shape = tuple(int(s) for s in shape)
    count = 1
    for s in shape:
        count *= s
    if count * itemsize != size:
        raise InvalidOptionError(
            f"shape {shape} of {elem} needs {count * itemsize} bytes but the frame holds {size}",
            detail="shape")
    if kind == "numpy":
        return np.empty(shape, dtype=dt)
    return torch.empty(shape, dtype=dt)


def decompress_into(dst: Any, src: Any, *, threads: int = 0, max_size: Optional[int] = None,
                    base: Any = None) -> int:
    """Decompresses the frame ``src`` into the writable buffer ``dst`` and returns the
    number of bytes written (the original size). ``dst`` too small raises
    :class:`BufferTooSmallError` and leaves it unchanged. ``base`` as for
    :func:`decompress`."""
    threads = _uint("threads", threads)
    with source(src) as (sp, n), _optional_source(base) as b, destination(dst) as (dp, cap):
        return _decompress_call(sp, n, dp, cap, threads, max_size, b)


def decompress_chunk(data: Any, index: int) -> bytes:
    """Decodes chunk ``index`` alone (random access): original bytes
    ``[index * chunk_size, index * chunk_size + len(result))``. The last
    ``original_size % planes`` bytes of the original belong to no chunk."""
    index = _uint("index", index, 64)
    info = _ffi.zipnn_frame_info()
    info.struct_size = ctypes.sizeof(_ffi.zipnn_frame_info)
    with source(data) as (src, n):
        _check(lib().zipnn_get_frame_info(src, n, ctypes.byref(info)), "zipnn_get_frame_info")
        cap = min(info.chunk_size, info.original_size)  # a chunk is never longer
        o = OutBytes(cap)
        w = ctypes.c_size_t(0)
        try:
            _check(lib().zipnn_decompress_chunk(src, n, index, o.ptr, cap, ctypes.byref(w)),
                   "zipnn_decompress_chunk")
        except BaseException:
            o.discard()
            raise
    return o.finish(w.value)


# --- streams -------------------------------------------------------------------------------
STREAM_DEFAULT_BLOCK_SIZE = _ffi.ZIPNN_STREAM_DEFAULT_BLOCK_SIZE
STREAM_MIN_BLOCK_SIZE = _ffi.ZIPNN_STREAM_MIN_BLOCK_SIZE
STREAM_MAX_BLOCK_SIZE = _ffi.ZIPNN_STREAM_MAX_BLOCK_SIZE
_STREAM_OUT_SIZE = 1 << 20  # default size of a stream object's reusable output buffer


def _address(ptr: Any) -> int:
    """The integer address of a pointer argument yielded by ``source()``."""
    if ptr is None:
        return 0
    if isinstance(ptr, int):
        return ptr
    if isinstance(ptr, bytes):
        return ctypes.cast(ctypes.c_char_p(ptr), ctypes.c_void_p).value or 0
    return ctypes.addressof(ptr)


class _Stream:
    """Shared handle and output-buffer management of the two stream classes."""

    _free_name = ""
    _handle: Optional[int] = None

    def _init_out(self, out_size: int) -> None:
        out_size = _uint("out_size", out_size, 64)
        if out_size == 0:
            raise InvalidOptionError("out_size must be positive", detail="out_size")
        self._out = bytearray(out_size)
        self._out_arr = (ctypes.c_char * out_size).from_buffer(self._out)
        self._out_cap = out_size

    def _emit(self, emit: Any, n: int) -> None:
        with memoryview(self._out) as mv, mv[:n] as view:
            emit(view)

    def _h(self) -> int:
        if self._handle is None:
            raise InvalidOptionError(f"the {type(self).__name__} is closed", detail="stream")
        return self._handle

    def _pump(self, name: str, data: Any, emit: Any, drained: Any) -> None:
        """Feeds ``data`` to the stream function ``name`` (zipnn_cstream_compress or
        zipnn_dstream_decompress), handing each piece of output (a view of the reusable
        buffer, valid during the call only) to ``emit``, until all input is taken and
        ``drained(written)`` says nothing more is waiting."""
        h = self._h()
        consumed = ctypes.c_size_t(0)
        written = ctypes.c_size_t(0)
        fn = getattr(lib(), name)
        with source(data) as (ptr, n):
            base = _address(ptr)
            pos = 0
            while True:
                left = n - pos
                st = fn(h, (base + pos) if left else None, left, ctypes.byref(consumed),
                        self._out_arr, self._out_cap, ctypes.byref(written))
                _check(st, name)
                pos += consumed.value
                if written.value:
                    self._emit(emit, written.value)
                if pos >= n:
                    if drained(written.value):
                        break
                elif consumed.value == 0 and written.value == 0:
                    raise InternalError(f"{name} made no progress", detail=name)

    def close(self) -> None:
        """Frees the C context (idempotent). The object cannot be used afterwards."""
        h, self._handle = self._handle, None
        if h is not None:
            getattr(lib(), self._free_name)(h)

    def __enter__(self) -> "_Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # backstop; close() is the normal way
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        return self._handle is None


class CompressStream(_Stream):
    """Incremental compression into a zipnn stream (docs/FORMAT.md section 11) over
    ``zipnn_cstream_*``: each ``block_size`` bytes of input (0 = 8 MiB; 1 KiB .. 256 MiB,
    best a multiple of ``chunk_size``) become one frame.

    ``compress(data)`` takes any amount of input and returns the stream bytes ready so far
    (often ``b""``: bytes come out a whole block at a time); ``finish()`` returns the rest
    (last block, index, trailer). The output does not depend on how the input is cut.
    Memory: about two blocks in the library plus a reusable ``out_size`` buffer here.
    Options as :func:`compress` (``lossy``/``lossy_param`` and ``target`` included; no ``metadata``, no
    ``base``: stream frames are never deltas). Use as a context manager or call
    ``close()``; not for use by two threads at once."""

    _free_name = "zipnn_cstream_free"

    def __init__(self, *, dtype: Any = None, method: Any = "auto", level: Any = None,
                 threads: int = 0, chunk_size: Optional[int] = None, block_size: int = 0,
                 zstd_level: Optional[int] = None, lz4_level: Optional[int] = None,
                 threshold: Optional[float] = None, bg_partitions: Optional[int] = None,
                 lossy: Any = None, lossy_param: Optional[int] = None, target: Any = None,
                 out_size: int = _STREAM_OUT_SIZE) -> None:
        self._handle = None
        code, bg = _dtypes.resolve(dtype)
        opts = make_options(dtype_code=code, method=method, level=level, threads=threads,
                            chunk_size=chunk_size, zstd_level=zstd_level, lz4_level=lz4_level,
                            threshold=threshold,
                            bg_partitions=bg if bg_partitions is None else bg_partitions,
                            lossy=lossy, lossy_param=lossy_param, target=target)
        block_size = _uint("block_size", block_size, 64)
        self._init_out(out_size)
        h = ctypes.c_void_p()
        _check(lib().zipnn_cstream_new(ctypes.byref(opts), block_size, ctypes.byref(h)),
               "zipnn_cstream_new")
        self._handle = h.value
        self._finished = False

    def compress(self, data: Any) -> bytes:
        """Feeds ``data`` (bytes-like, numpy array, torch tensor); returns the stream
        bytes produced by it (possibly ``b""``)."""
        parts: list = []
        self._feed(data, lambda mv: parts.append(bytes(mv)))
        return b"".join(parts)

    def _feed(self, data: Any, emit: Any) -> None:
        """compress() handing each piece of output to ``emit`` instead of collecting it;
        done once the input is taken and the output buffer did not fill up."""
        self._pump("zipnn_cstream_compress", data, emit, lambda w: w < self._out_cap)

    def finish(self) -> bytes:
        """Ends the stream; returns its last bytes (last block, index and trailer).
        Calling it again returns ``b""``; ``compress()`` after it raises."""
        h = self._h()
        if self._finished:
            return b""
        parts = []
        written = ctypes.c_size_t(0)
        done = ctypes.c_int(0)
        while True:
            _check(lib().zipnn_cstream_finish(h, self._out_arr, self._out_cap,
                                              ctypes.byref(written), ctypes.byref(done)),
                   "zipnn_cstream_finish")
            if written.value:
                parts.append(bytes(self._out[: written.value]))
            if done.value:
                break
            if written.value == 0:
                raise InternalError("zipnn_cstream_finish made no progress",
                                    detail="zipnn_cstream_finish")
        self._finished = True
        return b"".join(parts)


class DecompressStream(_Stream):
    """Incremental decompression of a zipnn stream over ``zipnn_dstream_*``.

    ``decompress(data)`` takes any piece of the stream and returns the original bytes it
    completes (a frame's bytes come out only after the frame is checked); ``finish()``
    checks that the stream was complete through its trailer (``TruncatedError`` if not;
    the stream's own error if it was bad) and returns any bytes still waiting (normally
    ``b""``). ``threads``: workers per frame (0 = all cores). ``max_size``: a stream whose
    output passes it raises ``LimitExceededError``. Memory: about two of the stream's
    blocks in the library plus a reusable ``out_size`` buffer here."""

    _free_name = "zipnn_dstream_free"

    def __init__(self, threads: int = 0, max_size: Optional[int] = None, *,
                 out_size: int = _STREAM_OUT_SIZE) -> None:
        self._handle = None
        opts = make_options(threads=_uint("threads", threads), max_size=max_size)
        self._init_out(out_size)
        h = ctypes.c_void_p()
        _check(lib().zipnn_dstream_new(ctypes.byref(opts), ctypes.byref(h)), "zipnn_dstream_new")
        self._handle = h.value

    def decompress(self, data: Any) -> bytes:
        """Feeds stream bytes ``data``; returns the original bytes produced (maybe b"")."""
        parts: list = []
        self._feed(data, lambda mv: parts.append(bytes(mv)))
        return b"".join(parts)

    def _feed(self, data: Any, emit: Any) -> None:
        """decompress() handing each piece of output to ``emit`` instead of collecting
        it; done once the input is taken and a call writes nothing more."""
        self._pump("zipnn_dstream_decompress", data, emit, lambda w: w == 0)

    def finish(self) -> bytes:
        """Checks that the whole stream was seen; returns bytes still waiting (normally
        b""). Raises ``TruncatedError`` for an incomplete stream, or the stream's error."""
        rest = self.decompress(b"")
        _check(lib().zipnn_dstream_finish(self._h()), "zipnn_dstream_finish")
        return rest


# --- files ---------------------------------------------------------------------------------
class _FileView:
    """A read-only, zero-copy view of a whole file (mmap; b"" for an empty file)."""

    def __init__(self, path: PathLike) -> None:
        self._f = open(path, "rb")
        size = os.fstat(self._f.fileno()).st_size
        self._m = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        self.data: Any = self._m if self._m is not None else b""

    def __enter__(self) -> Any:
        return self.data

    def __exit__(self, *exc: Any) -> None:
        self.data = None
        if self._m is not None:
            self._m.close()
        self._f.close()


def _write_atomic(path: PathLike, payload: Any) -> None:
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


FILE_PIECE_SIZE = 4 << 20  #: bytes read from the input file at a time by the file functions

_FRAME_MAGIC = b"\x89ZNN"
_STREAM_MAGIC = b"\x89ZNS"


class _Tmp:
    """A temporary file beside ``path`` that is renamed onto it by :meth:`commit` and
    removed if anything fails first (so ``path`` is either the old file or complete)."""

    def __init__(self, path: PathLike) -> None:
        self.path = path
        self.tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
        self.f = open(self.tmp, "wb")
        self.written = 0

    def write(self, data: Any) -> None:
        self.f.write(data)
        self.written += len(data)

    def commit(self) -> None:
        self.f.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self.f.close()
        finally:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass


def compress_file(src_path: PathLike, dst_path: PathLike, *, block_size: int = 0,
                  piece_size: int = FILE_PIECE_SIZE, **options: Any) -> int:
    """Compresses the file ``src_path`` into a zipnn stream (docs/FORMAT.md section 11)
    written to ``dst_path``; returns the stream's length.

    Streaming: the input is read ``piece_size`` bytes at a time and fed to a
    :class:`CompressStream`, whose output is written as each block is coded, so memory
    stays at about two blocks (``block_size``, 0 = 8 MiB) whatever the file's size. The
    output goes to a temporary file renamed onto ``dst_path`` at the end (nothing is left
    behind on error). Options as :class:`CompressStream` (``dtype``, ``method``, ``level``,
    ``threads``, ``chunk_size``, ...; no ``metadata``: streams carry none)."""
    piece_size = _uint("piece_size", piece_size, 64)
    if piece_size == 0:
        raise InvalidOptionError("piece_size must be positive", detail="piece_size")
    written = 0
    with open(src_path, "rb") as fin:
        with CompressStream(block_size=block_size, **options) as cs:
            out = _Tmp(dst_path)
            try:
                while True:
                    piece = fin.read(piece_size)
                    if not piece:
                        break
                    cs._feed(piece, out.write)
                    del piece
                chunk = cs.finish()
                out.write(chunk)
                written = out.written
                out.commit()
            except BaseException:
                out.abort()
                raise
    return written


def decompress_file(src_path: PathLike, dst_path: PathLike, *, threads: int = 0,
                    max_size: Optional[int] = None, piece_size: int = FILE_PIECE_SIZE) -> int:
    """Decompresses the file ``src_path`` into ``dst_path``; returns the decompressed size.

    A zipnn stream (magic ``\\x89ZNS``, as :func:`compress_file` writes) is read
    ``piece_size`` bytes at a time through a :class:`DecompressStream` and written as it
    is decoded (memory: about two of the stream's blocks). A file holding one frame
    (magic ``\\x89ZNN``, as written by earlier versions of :func:`compress_file`) is
    decoded in one call (memory: its decompressed size, at most ``max_size``: by default
    :data:`DEFAULT_FILE_LIMIT` for such a frame, no limit for a stream, whose memory is
    bounded anyway). Output goes through a temporary file, written piece by piece and
    renamed onto ``dst_path``; on error (a full disk included) ``dst_path`` is not created
    or changed and the temporary file is removed."""
    piece_size = _uint("piece_size", piece_size, 64)
    if piece_size == 0:
        raise InvalidOptionError("piece_size must be positive", detail="piece_size")
    threads = _uint("threads", threads)
    with open(src_path, "rb") as fin:
        head = fin.read(4)
        if head == _FRAME_MAGIC:
            fin.close()
            with _FileView(src_path) as data:
                out_bytes = decompress(data, threads=threads,
                                       max_size=max_size or DEFAULT_FILE_LIMIT)
            _write_atomic(dst_path, out_bytes)
            return len(out_bytes)
        written = 0
        with DecompressStream(threads=threads, max_size=max_size) as ds:
            out = _Tmp(dst_path)
            try:
                piece = head
                while True:
                    if piece:
                        ds._feed(piece, out.write)
                        del piece
                    piece = fin.read(piece_size)
                    if not piece:
                        break
                out.write(ds.finish())
                written = out.written
                out.commit()
            except BaseException:
                out.abort()
                raise
    return written


# --- versions ------------------------------------------------------------------------------
def library_version() -> str:
    """The loaded library's version string (``zipnn_version_string``)."""
    return lib().zipnn_version_string().decode()


def format_version() -> int:
    """The frame format version the library writes and reads."""
    return int(lib().zipnn_format_version())
