"""The interface of the reference ``zipnn`` package (PyPI 0.1.x-0.5.x): class ``ZipNN``.

``from zipnn import zipnn; z = zipnn.ZipNN(method="zstd"); c = z.compress(b);
z.decompress(c)``. Options are mapped onto ``zipnn_options`` (see bindings/python/README.md
for the table). Options whose feature this library does not have yet (custom sign-bit
reordering, monotonic data, streaming of in-memory data, GPU, ...) raise
:class:`zipnn.NotSupportedYetError` naming the option when set to anything but their
default; no option is silently ignored.

Lossy: ``lossy_compressed_type="integer"`` with ``lossy_compressed_factor`` (default 27)
is the library's ``ZIPNN_LOSSY_INTEGER`` mode with that factor (fixed point with ``factor``
fractional bits: absolute error at most ``2**-(factor+1)`` plus half an ulp). It needs
float data (a float tensor/array, or bytes with ``torch_dtype``/``bytearray_dtype``), and
the factor must suit the dtype: at most 14 for bfloat16/float16, 30 for float32, 62 for
float64 (27, the default, is meant for float32).

Delta: ``delta_compressed_type="byte"`` with ``compress(data, delta_second_data=base)``
(bytes-like, numpy or torch, same length) codes ``data`` against ``base`` (the library's
``zipnn_compress_delta``); ``decompress(frame, delta_second_data=base)`` needs the same
base (``BaseMismatchError`` otherwise, ``BaseRequiredError`` without one).
``delta_compressed_type="file"`` takes a path as ``delta_second_data``.

``signbit_to_lsb`` is accepted and changes nothing: the library's float layouts already
take the sign bit out of the exponent byte (bf16/fp32: ``e8 | s m7 ...``, fp16: sign
rotated to the least significant bit; docs/LAYOUTS.md).

File to file (``input_type="file"`` or ``decompressed_ret_type="file"`` with
``compressed_ret_type="file"``) goes through :func:`zipnn.compress_file` /
:func:`zipnn.decompress_file`: streamed with bounded memory, in the library's stream format;
``is_streaming`` and ``streaming_chunk_KB`` (block size = KB * 1024, clamped to 1 KiB ..
256 MiB) are accepted there.

Frames are written in the library's own format. Frames the reference package wrote
(``ZipNN().compress`` of 0.5.x, its streamed frames, its ``.znn`` files) are read too, as
the reference reads them: the frame's header decides what ``decompress`` returns (bytes, or
for a frame of a torch tensor / numpy array a tensor / array of its dtype and shape), and a
delta frame needs ``delta_second_data``. They have no checksum; :func:`zipnn.convert`
rewrites them with checksums. The reference package cannot read this library's frames.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

from . import _api, _dtypes
from ._buffers import is_numpy_array, is_torch_tensor
from ._errors import InvalidOptionError, NotSupportedYetError

_FLOAT_DTYPES = ("bf16", "fp16", "fp32", "fp64")

_INPUT_TYPES = ("byte", "torch", "numpy", "file")
_COMPRESSED_RET = ("byte", "file")
_DECOMPRESSED_RET = ("byte", "torch", "numpy", "file")


def _not_yet(option: str, value: Any, what: str) -> NotSupportedYetError:
    return NotSupportedYetError(
        f"option '{option}' is not supported yet ({what}); got {value!r}", detail=option)


def _choice(option: str, value: Any, allowed: Any) -> str:
    v = str(value).lower()
    if v == "bytes":
        v = "byte"
    if v not in allowed:
        raise InvalidOptionError(f"{option} must be one of {', '.join(allowed)}, got {value!r}",
                                 detail=option)
    return v


class ZipNN:
    """Compressor with the reference package's options (see the module docstring)."""

    def __init__(
        self,
        method: str = "auto",
        delta_compressed_type: Any = None,
        bg_partitions: int = 4,
        bg_compression_threshold: Optional[float] = None,
        torch_dtype: Any = None,
        torch_shape: Any = None,
        signbit_to_lsb: bool = False,
        lossy_compressed_type: Any = None,
        lossy_compressed_factor: int = 27,
        is_streaming: bool = False,
        streaming_chunk_KB: Optional[int] = None,
        input_type: Optional[str] = None,
        input_file: Optional[str] = None,
        compressed_ret_type: str = "byte",
        compressed_file: Optional[str] = None,
        decompressed_ret_type: Optional[str] = None,
        decompressed_file: Optional[str] = None,
        zstd_level: int = 3,
        zstd_threads: Optional[int] = None,
        lz4_compression_level: int = 0,
        *,
        # Names of the 0.5.x reference (same meanings; see README.md).
        input_format: Optional[str] = None,
        bytearray_dtype: Any = None,
        threads: Optional[int] = None,
        compression_threshold: Optional[float] = None,
        compression_chunk: Optional[int] = None,
        is_monotonic: int = 0,
        check_th_after_percent: int = 10,
        byte_reorder: int = 0,
        reorder_signbit: int = 0,
        streaming_chunk: Optional[int] = None,
        streaming_chunk_kb: Optional[int] = None,
    ) -> None:
        self.delta_compressed_type = _delta_type(delta_compressed_type)
        self.lossy_compressed_type = _lossy_type(lossy_compressed_type)
        self.lossy_compressed_factor = _factor(lossy_compressed_factor)
        # The library's float layouts already move the sign bit (docs/LAYOUTS.md).
        self.signbit_to_lsb = bool(signbit_to_lsb)
        if reorder_signbit not in (0, None):
            raise _not_yet("reorder_signbit", reorder_signbit,
                           "the sign bit is placed per dtype by the library")
        if is_monotonic:
            raise _not_yet("is_monotonic", is_monotonic, "monotonic-data transform")
        if byte_reorder not in (0, None):
            raise _not_yet("byte_reorder", byte_reorder,
                           "custom byte-group layouts; use bg_partitions or a dtype")
        if check_th_after_percent != 10:
            raise _not_yet("check_th_after_percent", check_th_after_percent,
                           "early stop; the threshold is applied to every plane-chunk")

        # Aliases between the 0.1.x and 0.5.x names.
        if input_type is not None and input_format is not None and input_type != input_format:
            raise InvalidOptionError("input_type and input_format disagree", detail="input_type")
        self.input_type = _choice("input_type", input_type or input_format or "byte", _INPUT_TYPES)
        if zstd_threads is not None and threads is not None and zstd_threads != threads:
            raise InvalidOptionError("zstd_threads and threads disagree", detail="threads")
        self.threads = zstd_threads if zstd_threads is not None else (threads or 0)
        if (bg_compression_threshold is not None and compression_threshold is not None
                and bg_compression_threshold != compression_threshold):
            raise InvalidOptionError("bg_compression_threshold and compression_threshold disagree",
                                     detail="bg_compression_threshold")
        self.threshold = bg_compression_threshold if bg_compression_threshold is not None \
            else compression_threshold
        if torch_dtype is not None and bytearray_dtype is not None:
            raise InvalidOptionError("give torch_dtype or bytearray_dtype, not both", detail="torch_dtype")

        self.method = method
        _api._method_code(method)  # validate now: UnsupportedMethodError
        self.bg_partitions = bg_partitions
        self.torch_dtype = torch_dtype
        self.torch_shape = tuple(torch_shape) if torch_shape is not None else None
        self.bytearray_dtype = bytearray_dtype
        self.input_file = input_file
        self.compressed_ret_type = _choice("compressed_ret_type", compressed_ret_type, _COMPRESSED_RET)
        self.compressed_file = compressed_file
        default_ret = self.input_type if self.input_type in ("torch", "numpy") else "byte"
        self.decompressed_ret_type = _choice("decompressed_ret_type",
                                             decompressed_ret_type or default_ret, _DECOMPRESSED_RET)
        self.decompressed_file = decompressed_file
        self.zstd_level = zstd_level
        self.lz4_compression_level = lz4_compression_level
        self.compression_chunk = compression_chunk
        if self.compressed_ret_type == "file" and not compressed_file:
            raise InvalidOptionError("compressed_ret_type='file' needs compressed_file",
                                     detail="compressed_file")
        if self.decompressed_ret_type == "file" and not decompressed_file:
            raise InvalidOptionError("decompressed_ret_type='file' needs decompressed_file",
                                     detail="decompressed_file")
        # Streaming: supported for file-to-file work, where it is how files are handled
        # anyway (zipnn.compress_file / decompress_file); the chunk size sets the block size.
        self.block_size = 0
        chunk_opts = [(n, v) for n, v in (("streaming_chunk_KB", streaming_chunk_KB),
                                          ("streaming_chunk_kb", streaming_chunk_kb),
                                          ("streaming_chunk", streaming_chunk)) if v is not None]
        if is_streaming or chunk_opts:
            file_to_file = self.compressed_ret_type == "file" and (
                self.input_type == "file" or self.decompressed_ret_type == "file")
            if not file_to_file:
                name, val = ("is_streaming", is_streaming) if is_streaming else chunk_opts[0]
                raise _not_yet(name, val, "streaming is only supported file to file "
                               "(input_type='file' or decompressed_ret_type='file', with "
                               "compressed_ret_type='file')")
            if len({_stream_block(n, v) for n, v in chunk_opts}) > 1:
                raise InvalidOptionError("streaming chunk options disagree", detail=chunk_opts[0][0])
            if chunk_opts:
                self.block_size = _stream_block(*chunk_opts[0])
        self.is_streaming = bool(is_streaming)

        # Fail on bad numeric options now rather than at the first compress().
        _api._bound(0, _api.make_options(**self._codec_options()), None)

    # -- option mapping ------------------------------------------------------------------
    def _codec_options(self) -> Dict[str, Any]:
        return dict(
            method=self.method,
            threads=self.threads,
            chunk_size=self.compression_chunk,
            zstd_level=self.zstd_level,
            lz4_level=self.lz4_compression_level,
            threshold=self.threshold,
        )

    def _dtype_for(self, data: Any, lossy_wanted: bool = False) -> Dict[str, Any]:
        """dtype/bg_partitions/metadata arguments for the library call."""
        if is_numpy_array(data) or is_torch_tensor(data):
            if self.bg_partitions == 1 and not lossy_wanted:
                # The reference's "no byte grouping": plain coding of the bytes.
                return {"dtype": "raw", "bg_partitions": 1}
            return {}  # the dtype's own planes replace the generic byte grouping
        declared = self.torch_dtype if self.torch_dtype is not None else self.bytearray_dtype
        if declared is None:
            return {"dtype": "raw", "bg_partitions": self.bg_partitions}
        out: Dict[str, Any] = {"dtype": declared}
        name, _ = _declared_element(declared)
        meta = {"dtype": name, "lib": "torch" if self.torch_dtype is not None else "numpy",
                "zipnn": _dtypes.METADATA_VERSION}
        if self.torch_shape is not None:
            meta["shape"] = list(self.torch_shape)
        out["_meta"] = meta
        return out

    # -- compression ---------------------------------------------------------------------
    def compress(self, data: Any = None, compress_cpu_gpu: str = "cpu", delta_second_data: Any = None,
                 lossy_compressed_type: Any = None, lossy_compressed_factor: Any = None) -> Any:
        """Compresses ``data`` (bytes-like, numpy array, torch tensor, or with
        input_type='file' a path, default input_file). Returns the frame as ``bytes``, or
        writes it to compressed_file and returns 0 when compressed_ret_type='file'.

        ``delta_second_data``: the base for ``delta_compressed_type`` "byte" (bytes-like,
        numpy, torch) or "file" (a path); required exactly when delta is set.
        ``lossy_compressed_type``/``lossy_compressed_factor`` override the instance's for
        this call."""
        if compress_cpu_gpu != "cpu":
            raise _not_yet("compress_cpu_gpu", compress_cpu_gpu, "GPU compression")
        lossy = self._lossy_kw(lossy_compressed_type, lossy_compressed_factor)
        with self._delta_base(delta_second_data, "compress") as base:
            if self.input_type == "file":
                path = data if data is not None else self.input_file
                if path is None:
                    raise InvalidOptionError("input_type='file' needs a path or input_file", detail="input_file")
                if self.compressed_ret_type == "file" and base is None:
                    # File to file: streamed (bounded memory), in the library's stream format.
                    kw = self._dtype_for(b"")
                    kw.pop("_meta", None)
                    _check_lossy_dtype(kw.get("dtype"), lossy)
                    _api.compress_file(path, self.compressed_file, block_size=self.block_size,  # type: ignore[arg-type]
                                       **kw, **lossy, **self._codec_options())
                    return 0
                # (A delta is one frame: stream frames are never deltas.)
                with _api._FileView(path) as view:
                    frame = self._compress_data(view, base, lossy)
            else:
                if data is None:
                    raise InvalidOptionError("no data to compress", detail="data")
                frame = self._compress_data(data, base, lossy)
        if self.compressed_ret_type == "file":
            _api._write_atomic(self.compressed_file, frame)  # type: ignore[arg-type]
            return 0
        return frame

    def _lossy_kw(self, call_type: Any, call_factor: Any) -> Dict[str, Any]:
        """lossy/lossy_param arguments for this call (per-call values win)."""
        kind = self.lossy_compressed_type if call_type is None else _lossy_type(call_type)
        factor = self.lossy_compressed_factor if call_factor is None else _factor(call_factor)
        if kind is None:
            return {}
        return {"lossy": kind, "lossy_param": factor}

    @contextmanager
    def _delta_base(self, second: Any, what: str) -> Iterator[Any]:
        """The delta base for a call: None, the bytes-like given, or a file's mapped view."""
        if self.delta_compressed_type is None:
            if second is not None:
                raise InvalidOptionError(
                    "delta_second_data was given but this ZipNN is not set for delta "
                    "compression (delta_compressed_type='byte' or 'file')", detail="delta_second_data")
            yield None
            return
        if second is None:
            if what == "decompress":
                yield None  # a delta frame then raises BaseRequiredError
                return
            raise InvalidOptionError(
                f"delta_compressed_type={self.delta_compressed_type!r} needs delta_second_data "
                "(the base: same length as the data)", detail="delta_second_data")
        if self.delta_compressed_type == "file":
            if not isinstance(second, (str, os.PathLike)):
                raise InvalidOptionError("delta_compressed_type='file' takes a path as delta_second_data",
                                         detail="delta_second_data")
            with _api._FileView(second) as view:
                yield view
            return
        yield second

    def _compress_data(self, data: Any, base: Any = None, lossy: Optional[Dict[str, Any]] = None) -> bytes:
        kw = self._dtype_for(data, lossy_wanted=bool(lossy))
        meta = kw.pop("_meta", None)
        frame_meta = None
        if meta is not None:
            import json

            frame_meta = json.dumps(meta, separators=(",", ":"), sort_keys=True).encode()
        lossy = lossy or {}
        if lossy:
            _check_lossy_dtype(kw.get("dtype", _array_lib_dtype(data)), lossy)
        return _api.compress(data, metadata=frame_meta, base=base, **kw, **lossy,
                             **self._codec_options())

    # -- decompression -------------------------------------------------------------------
    def decompress(self, data: Any = None, decompress_cpu_gpu: str = "cpu",
                   delta_second_data: Any = None) -> Any:
        """Decompresses a frame (or, with compressed_ret_type='file', the file at ``data``,
        default compressed_file). Returns bytes, a torch tensor or numpy array
        (decompressed_ret_type), or writes decompressed_file and returns 0."""
        if decompress_cpu_gpu != "cpu":
            raise _not_yet("decompress_cpu_gpu", decompress_cpu_gpu, "GPU decompression")
        with self._delta_base(delta_second_data, "decompress") as base:
            if self.compressed_ret_type == "file" and (data is None or isinstance(data, (str, os.PathLike))):
                path = data if data is not None else self.compressed_file
                if self.decompressed_ret_type == "file" and base is None:
                    # File to file: streamed for stream files, one call for one-frame files.
                    _api.decompress_file(path, self.decompressed_file, threads=self.threads)  # type: ignore[arg-type]
                    return 0
                with _api._FileView(path) as view:  # type: ignore[arg-type]
                    return self._decompress_data(view, base)
            if data is None:
                raise InvalidOptionError("no data to decompress", detail="data")
            return self._decompress_data(data, base)

    def _decompress_data(self, frame: Any, base: Any = None) -> Any:
        ret = self.decompressed_ret_type
        if _head(frame)[:2] == b"ZN":
            # Written by the reference package: its header says what comes back.
            out = _api.decompress(frame, out="auto", threads=self.threads, base=base)
            if ret == "file":
                _api._write_atomic(self.decompressed_file, bytes(out))  # type: ignore[arg-type]
                return 0
            return out
        if _head(frame) == _api._STREAM_MAGIC:
            if base is not None:
                raise InvalidOptionError("stream files are never deltas; delta_second_data does not apply",
                                         detail="delta_second_data")
            return self._decompress_stream(frame)
        if ret in ("byte", "file"):
            out = _api.decompress(frame, threads=self.threads, base=base)
            if ret == "file":
                _api._write_atomic(self.decompressed_file, out)  # type: ignore[arg-type]
                return 0
            return out
        doc = _api.array_metadata(frame) or {}
        dtype = shape = None
        declared = self.torch_dtype if self.torch_dtype is not None else self.bytearray_dtype
        if "dtype" not in doc and declared is not None:
            dtype = _declared_element(declared)[0]
        if "shape" not in doc:
            shape = self.torch_shape
        return _api.decompress(frame, out=ret, threads=self.threads, dtype=dtype, shape=shape, base=base)


    def _decompress_stream(self, data: Any) -> Any:
        """A stream (as written file to file) decoded in memory; streams carry no array
        metadata, so arrays take torch_dtype/bytearray_dtype and torch_shape."""
        with _api.DecompressStream(threads=self.threads) as ds:
            out = ds.decompress(data) + ds.finish()
        ret = self.decompressed_ret_type
        if ret in ("byte", "file"):
            if ret == "file":
                _api._write_atomic(self.decompressed_file, out)  # type: ignore[arg-type]
                return 0
            return out
        declared = self.torch_dtype if self.torch_dtype is not None else self.bytearray_dtype
        elem = _declared_element(declared)[0] if declared is not None else "uint8"
        arr = _api._empty_array(ret, elem, self.torch_shape, len(out))
        from ._buffers import destination

        with destination(arr) as (dp, cap):
            import ctypes

            ctypes.memmove(dp, out, len(out))
        return arr


def _delta_type(value: Any) -> Optional[str]:
    """None (no delta), "byte" or "file" for a delta_compressed_type value."""
    if value in (None, 0, "0", False) or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    v = str(value).strip().lower()
    if v == "bytes":
        v = "byte"
    if v not in ("byte", "file"):
        raise InvalidOptionError(f"delta_compressed_type must be 'byte' or 'file', got {value!r}",
                                 detail="delta_compressed_type")
    return v


def _lossy_type(value: Any) -> Optional[str]:
    """None (lossless) or "integer" for a lossy_compressed_type value (the reference's
    EnumLossy: NONE = 0, INTEGER = 1, UNSIGN = 2)."""
    if value in (None, 0, "0", False):
        return None
    v = str(value).strip().lower()
    if v == "none":
        return None
    if v in ("integer", "1"):
        return "integer"
    if v in ("unsign", "unsigned", "2"):
        raise _not_yet("lossy_compressed_type", value, "only 'integer' lossy compression")
    raise InvalidOptionError(f"lossy_compressed_type must be 'integer' (or None), got {value!r}",
                             detail="lossy_compressed_type")


def _factor(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise InvalidOptionError(f"lossy_compressed_factor must be an integer 0..255, got {value!r}",
                                 detail="lossy_compressed_factor")
    return value


def _array_lib_dtype(data: Any) -> Optional[str]:
    """The library dtype name of a numpy array or torch tensor (None for other data)."""
    desc = _dtypes.array_description(data)
    if desc is None:
        return None
    return _dtypes.lib_dtype_for_element(desc["dtype"], desc["_itemsize"])[0]


def _check_lossy_dtype(dtype: Any, lossy: Dict[str, Any]) -> None:
    """A clear error when lossy compression meets data that is not float."""
    if not lossy:
        return
    code, _ = _dtypes.resolve(dtype)
    name = _dtypes.dtype_name(code) if code in _dtypes.DTYPE_CODES.values() else str(dtype)
    if name not in _FLOAT_DTYPES:
        raise InvalidOptionError(
            f"lossy_compressed_type={lossy['lossy']!r} needs float data (bfloat16, float16, "
            f"float32, float64): pass a float tensor or array, or set torch_dtype / "
            f"bytearray_dtype for bytes input; this data is {name!r}",
            detail="lossy_compressed_type")


def _head(data: Any) -> bytes:
    """The first 4 bytes of a bytes-like object (b"" for anything else)."""
    try:
        return bytes(memoryview(data).cast("B")[:4])
    except (TypeError, ValueError):
        return b""


def _stream_block(option: str, value: Any) -> int:
    """Block size for a streaming chunk option (KB for *_KB/_kb, bytes for
    streaming_chunk), clamped to the library's range."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidOptionError(f"{option} must be a positive integer, got {value!r}", detail=option)
    size = value if option == "streaming_chunk" else value * 1024
    return max(_api.STREAM_MIN_BLOCK_SIZE, min(_api.STREAM_MAX_BLOCK_SIZE, size))


def _declared_element(declared: Any) -> Any:
    """(element name, itemsize) for a torch_dtype/bytearray_dtype value."""
    if isinstance(declared, str):
        key = declared.strip()
        if key.startswith("torch."):
            key = key[6:]
        lib_name = _dtypes._ALIASES.get(key.lower(), key.lower())
        if lib_name in _dtypes.FRAME_ELEMENT:
            return (_dtypes.FRAME_ELEMENT[lib_name],
                    _dtypes.element_size(_dtypes.DTYPE_CODES[lib_name]))
        if lib_name in _dtypes._PLAIN_INTS:
            return lib_name, _dtypes._PLAIN_INTS[lib_name]
    return _dtypes.element_name(declared)
