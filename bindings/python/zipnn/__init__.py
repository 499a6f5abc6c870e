"""zipnn: lossless compression of neural-network weights (Python binding of libzipnn).

Modern API::

    import zipnn
    frame = zipnn.compress(data, dtype="bf16")        # bytes, buffers, numpy, torch
    data = zipnn.decompress(frame)                    # bytes
    t = zipnn.decompress(frame, out="torch")          # same dtype and shape as compressed
    n = zipnn.compress_into(dst, src); n = zipnn.decompress_into(dst, frame)
    zipnn.frame_info(frame); zipnn.decompress_chunk(frame, 0); zipnn.verify(frame)
    zipnn.compress_file("w.bin", "w.bin.znn"); zipnn.decompress_file("w.bin.znn", "w.bin")
    frame = zipnn.compress(ft, base=base); zipnn.decompress(frame, base=base)   # delta
    frame = zipnn.compress(w, lossy="mantissa", lossy_param=8)                  # opt-in lossy
    zipnn.decompress(old); zipnn.convert(old)    # files of the reference package (0.5.x)
    zipnn.safetensors.compress_file("m.safetensors", "m.znt")                   # archives
    with zipnn.safetensors.safe_open("m.znt", framework="pt") as f: f.get_tensor("w")
    with zipnn.CompressStream(dtype="bf16") as cs:    # incremental (stream format)
        out = cs.compress(piece) + cs.finish()
    zipnn.compress_model_dir("my-model", "my-model-znn")   # model folders: shards -> archives
    zipnn.zipnn_hf(); AutoModel.from_pretrained("my-model-znn")  # transformers (zipnn.hf)

Interface of the reference ``zipnn`` package::

    from zipnn import zipnn
    z = zipnn.ZipNN(method="zstd")
    c = z.compress(b); z.decompress(c)

Errors are :class:`ZipNNError` subclasses carrying ``.code`` (the C status) and
``.message`` (``zipnn_error_string``). The shared library is loaded on import: see
``zipnn._lib`` for the search order and ``ZIPNN_LIBRARY_PATH``.
"""

from __future__ import annotations

from . import _ffi
from ._api import (
    DEFAULT_FILE_LIMIT,
    LOSSY_MODES,
    NO_LIMIT,
    PRE_VERIFY_RATIO,
    STREAM_DEFAULT_BLOCK_SIZE,
    STREAM_MAX_BLOCK_SIZE,
    STREAM_MIN_BLOCK_SIZE,
    TARGETS,
    CompressStream,
    DecompressStream,
    FrameInfo,
    array_metadata,
    compress,
    compress_bound,
    compress_file,
    compress_into,
    convert,
    decompress,
    decompress_chunk,
    decompress_file,
    decompress_into,
    decompressed_size,
    error_string,
    format_version,
    frame_info,
    get_metadata,
    library_version,
    tensor_shape,
    verify,
)
from ._dtypes import DTYPE_CODES as DTYPES
from ._errors import (
    AllocationError,
    BadSafetensorsError,
    BaseMismatchError,
    BaseRequiredError,
    BufferTooSmallError,
    ChecksumError,
    CorruptDataError,
    DeltaBaseError,
    FileIOError,
    InternalError,
    InvalidOptionError,
    LibraryNotFoundError,
    LimitExceededError,
    NotAFrameError,
    NotFoundError,
    NotSupportedYetError,
    NullPointerError,
    PanicError,
    SourceTooLargeError,
    TruncatedError,
    UnsupportedCodecError,
    UnsupportedDtypeError,
    UnsupportedError,
    UnsupportedFlagsError,
    UnsupportedMethodError,
    UnsupportedVersionError,
    ZipNNError,
)
from ._lib import lib as _load, library_path

_load()  # fail at import, with the list of paths tried, when the library is missing

from . import zipnn  # noqa: E402  (the reference package's interface: zipnn.zipnn.ZipNN)
from .zipnn import ZipNN  # noqa: E402
from . import safetensors  # noqa: E402  (safetensors archives: zipnn.safetensors.safe_open, ...)
from ._model_dir import IndexRewriteError, compress_model_dir, decompress_model_dir  # noqa: E402
from . import hf  # noqa: E402  (transformers' from_pretrained; imports transformers only when patching)
from .hf import (  # noqa: E402
    patch_transformers,
    transformers_patched,
    unpatch_transformers,
    zipnn_hf,
)

__version__ = "0.1.0"

__all__ = [
    "compress", "compress_into", "compress_bound", "convert", "tensor_shape", "decompress",
    "decompress_into",
    "decompress_chunk", "decompressed_size", "frame_info", "FrameInfo", "get_metadata",
    "array_metadata", "verify", "compress_file", "decompress_file", "CompressStream", "DecompressStream",
    "STREAM_DEFAULT_BLOCK_SIZE", "STREAM_MIN_BLOCK_SIZE", "STREAM_MAX_BLOCK_SIZE", "PRE_VERIFY_RATIO",
    "DEFAULT_FILE_LIMIT", "NO_LIMIT",
    "library_version",
    "format_version", "library_path", "error_string", "DTYPES", "ZipNN",
    "ZipNNError", "InvalidOptionError", "NullPointerError", "UnsupportedError",
    "UnsupportedDtypeError", "UnsupportedMethodError", "UnsupportedVersionError",
    "UnsupportedFlagsError", "UnsupportedCodecError", "NotSupportedYetError",
    "BufferTooSmallError", "SourceTooLargeError", "LimitExceededError", "CorruptDataError",
    "NotAFrameError", "TruncatedError", "ChecksumError", "AllocationError", "InternalError",
    "PanicError", "BadSafetensorsError", "LibraryNotFoundError", "DeltaBaseError",
    "BaseRequiredError", "BaseMismatchError", "NotFoundError", "FileIOError", "LOSSY_MODES", "TARGETS",
    "safetensors", "compress_model_dir", "decompress_model_dir", "IndexRewriteError", "hf", "zipnn_hf",
    "patch_transformers", "unpatch_transformers", "transformers_patched",
]
