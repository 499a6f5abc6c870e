"""ctypes declarations for every function, struct and constant of include/zipnn.h.

Hand-written, and checked against the header by tests/test_ffi.py (function names, struct
fields and #define values), so that drift between the header and this file fails the tests.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    POINTER,
    Structure,
    c_char_p,
    c_float,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import Dict, List, Tuple

# --- constants (#define in zipnn.h) -------------------------------------------------------
ZIPNN_VERSION_MAJOR = 0
ZIPNN_VERSION_MINOR = 1
ZIPNN_VERSION_PATCH = 0
ZIPNN_VERSION_NUMBER = ZIPNN_VERSION_MAJOR * 10000 + ZIPNN_VERSION_MINOR * 100 + ZIPNN_VERSION_PATCH

ZIPNN_DTYPE_RAW = 0
ZIPNN_DTYPE_BF16 = 1
ZIPNN_DTYPE_FP16 = 2
ZIPNN_DTYPE_FP32 = 3
ZIPNN_DTYPE_FP64 = 4
ZIPNN_DTYPE_FP8_E4M3 = 5
ZIPNN_DTYPE_FP8_E5M2 = 6
ZIPNN_DTYPE_INT8 = 7
ZIPNN_DTYPE_UINT8 = 8

ZIPNN_METHOD_AUTO = 0
ZIPNN_METHOD_HUFFMAN = 1
ZIPNN_METHOD_ZSTD = 2
ZIPNN_METHOD_LZ4 = 3
ZIPNN_METHOD_SNAPPY = 4
ZIPNN_METHOD_RAW = 5

ZIPNN_LEVEL_DEFAULT = 0
ZIPNN_LEVEL_FAST = 1
ZIPNN_LEVEL_MAX = 3

ZIPNN_LOSSY_NONE = 0
ZIPNN_LOSSY_INTEGER = 1
ZIPNN_LOSSY_MANTISSA = 2

ZIPNN_TARGET_ANY = 0
ZIPNN_TARGET_AVX512 = 1

ZIPNN_FORMAT_ZIPNN = 0
ZIPNN_FORMAT_REFERENCE = 1
ZIPNN_INPUT_BYTES = 1
ZIPNN_INPUT_TORCH = 2
ZIPNN_INPUT_NUMPY = 3

ZIPNN_DEFAULT_FILE_LIMIT = 4294967296
ZIPNN_NO_LIMIT = 18446744073709551615

ZIPNN_FRAME_FLAG_METADATA = 1
ZIPNN_FRAME_FLAG_DELTA = 2
ZIPNN_FRAME_FLAG_LOSSY = 4
ZIPNN_FRAME_FLAG_COMPACT = 8

ZIPNN_PRE_VERIFY_RATIO = 8

ZIPNN_TENSOR_TIED = 1
ZIPNN_TENSOR_DELTA = 2
ZIPNN_TENSOR_LOSSY = 4

ZIPNN_STREAM_DEFAULT_BLOCK_SIZE = 8388608
ZIPNN_STREAM_MIN_BLOCK_SIZE = 1024
ZIPNN_STREAM_MAX_BLOCK_SIZE = 268435456

ZIPNN_OK = 0
ZIPNN_ERROR_NULL_POINTER = -1
ZIPNN_ERROR_INVALID_PARAM = -2
ZIPNN_ERROR_UNSUPPORTED_DTYPE = -3
ZIPNN_ERROR_UNSUPPORTED_METHOD = -4
ZIPNN_ERROR_BASE_REQUIRED = -5
ZIPNN_ERROR_BASE_MISMATCH = -6
ZIPNN_ERROR_NOT_FOUND = -7
ZIPNN_ERROR_DST_TOO_SMALL = -10
ZIPNN_ERROR_SRC_TOO_LARGE = -11
ZIPNN_ERROR_LIMIT_EXCEEDED = -12
ZIPNN_ERROR_BAD_MAGIC = -20
ZIPNN_ERROR_UNSUPPORTED_VERSION = -21
ZIPNN_ERROR_UNSUPPORTED_FLAGS = -22
ZIPNN_ERROR_UNSUPPORTED_CODEC = -23
ZIPNN_ERROR_TRUNCATED = -30
ZIPNN_ERROR_CORRUPT = -31
ZIPNN_ERROR_CHECKSUM = -32
ZIPNN_ERROR_ALLOC = -40
ZIPNN_ERROR_IO = -41
ZIPNN_ERROR_INTERNAL = -50
ZIPNN_ERROR_INTERNAL_PANIC = -51
ZIPNN_ERROR_BAD_SAFETENSORS = -60

# --- types ------------------------------------------------------------------------------
zipnn_status = c_int32


class zipnn_options(Structure):
    """``struct zipnn_options``; create with :func:`new_options` (runs zipnn_options_init)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("dtype", c_uint32),
        ("method", c_uint32),
        ("level", c_int32),
        ("threads", c_uint32),
        ("chunk_size", c_uint32),
        ("zstd_level", c_int32),
        ("lz4_level", c_int32),
        ("threshold", c_float),
        ("bg_partitions", c_uint32),
        ("max_decompressed_size", c_uint64),
        ("lossy_mode", c_uint32),
        ("lossy_param", c_uint32),
        ("target", c_uint32),
        ("reserved", c_uint32 * 5),
    ]


class zipnn_frame_info(Structure):
    """``struct zipnn_frame_info``; set ``struct_size`` before use."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("format_version", c_uint32),
        ("dtype", c_uint32),
        ("flags", c_uint32),
        ("planes", c_uint32),
        ("chunk_size", c_uint32),
        ("original_size", c_uint64),
        ("chunk_count", c_uint64),
        ("frame_size", c_uint64),
        ("metadata_size", c_uint64),
        ("lossy_mode", c_uint32),
        ("lossy_param", c_uint32),
        ("base_hash", c_uint64),
        ("format", c_uint32),
        ("input_format", c_uint32),
    ]


class zipnn_tensor_info(Structure):
    """``struct zipnn_tensor_info``; set ``struct_size`` before use. ``name`` is a
    ``c_void_p`` (read ``name_len`` bytes: a name may contain NULs); the pointers belong
    to the archive handle and die with it."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("dtype", c_uint32),
        ("name", c_void_p),
        ("name_len", c_size_t),
        ("safetensors_dtype", c_char_p),
        ("shape", POINTER(c_uint64)),
        ("ndim", c_uint32),
        ("flags", c_uint32),
        ("data_offset", c_uint64),
        ("size", c_uint64),
        ("compressed_size", c_uint64),
        ("tied_to", c_uint64),
        ("lossy_mode", c_uint32),
        ("lossy_param", c_uint32),
    ]


class zipnn_stream_info(Structure):
    """``struct zipnn_stream_info``; set ``struct_size`` before use."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("format_version", c_uint32),
        ("block_size", c_uint32),
        ("reserved", c_uint32),
        ("frame_count", c_uint64),
        ("original_size", c_uint64),
        ("stream_size", c_uint64),
    ]


_opts_p = POINTER(zipnn_options)
_info_p = POINTER(zipnn_frame_info)
_size_p = POINTER(c_size_t)
_u64_p = POINTER(c_uint64)

# name -> (restype, argtypes). Pointers to caller memory are c_void_p so that ``bytes``
# objects (their internal buffer, no copy), integer addresses (numpy/torch data pointers)
# and ctypes arrays made with from_buffer can all be passed.
FUNCTIONS: Dict[str, Tuple[object, List[object]]] = {
    "zipnn_compress_bound": (zipnn_status, [_opts_p, c_size_t, _size_p]),
    "zipnn_compress": (zipnn_status, [_opts_p, c_void_p, c_size_t, c_void_p, c_size_t, _size_p]),
    "zipnn_compress_with_metadata": (
        zipnn_status,
        [_opts_p, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p, c_size_t, _size_p],
    ),
    "zipnn_get_decompressed_size": (zipnn_status, [c_void_p, c_size_t, _u64_p]),
    "zipnn_decompress": (zipnn_status, [c_void_p, c_size_t, c_void_p, c_size_t, _size_p]),
    "zipnn_decompress_with_options": (
        zipnn_status,
        [_opts_p, c_void_p, c_size_t, c_void_p, c_size_t, _size_p],
    ),
    "zipnn_decompress_chunk": (
        zipnn_status,
        [c_void_p, c_size_t, c_uint64, c_void_p, c_size_t, _size_p],
    ),
    "zipnn_decompress_alloc_size": (zipnn_status, [_opts_p, c_void_p, c_size_t, _size_p]),
    "zipnn_get_frame_info": (zipnn_status, [c_void_p, c_size_t, _info_p]),
    "zipnn_get_metadata": (zipnn_status, [c_void_p, c_size_t, c_void_p, c_size_t, _size_p]),
    "zipnn_get_shape": (zipnn_status, [c_void_p, c_size_t, POINTER(c_uint64), c_size_t, _size_p]),
    "zipnn_verify": (zipnn_status, [c_void_p, c_size_t]),
    "zipnn_options_init": (None, [_opts_p]),
    "zipnn_dtype_name": (c_char_p, [c_uint32]),
    "zipnn_dtype_element_size": (zipnn_status, [c_uint32, _size_p]),
    "zipnn_error_string": (c_char_p, [zipnn_status]),
    "zipnn_version_number": (c_uint32, []),
    "zipnn_version_string": (c_char_p, []),
    "zipnn_format_version": (c_uint32, []),
    # Streams: handles are opaque pointers (c_void_p); a handle must not be used by two
    # threads at once.
    "zipnn_cstream_new": (zipnn_status, [_opts_p, c_size_t, POINTER(c_void_p)]),
    "zipnn_cstream_free": (None, [c_void_p]),
    "zipnn_cstream_compress": (
        zipnn_status,
        [c_void_p, c_void_p, c_size_t, _size_p, c_void_p, c_size_t, _size_p],
    ),
    "zipnn_cstream_finish": (
        zipnn_status,
        [c_void_p, c_void_p, c_size_t, _size_p, POINTER(ctypes.c_int)],
    ),
    "zipnn_dstream_new": (zipnn_status, [_opts_p, POINTER(c_void_p)]),
    "zipnn_dstream_free": (None, [c_void_p]),
    "zipnn_dstream_decompress": (
        zipnn_status,
        [c_void_p, c_void_p, c_size_t, _size_p, c_void_p, c_size_t, _size_p],
    ),
    "zipnn_dstream_finish": (zipnn_status, [c_void_p]),
    "zipnn_get_stream_info": (zipnn_status, [c_void_p, c_size_t, POINTER(zipnn_stream_info)]),
    "zipnn_stream_decode_range": (
        zipnn_status,
        [c_void_p, c_size_t, c_uint64, c_void_p, c_size_t, _size_p],
    ),
    # Delta against a base buffer of the same length.
    "zipnn_compress_delta": (
        zipnn_status,
        [_opts_p, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p,
         c_size_t, _size_p],
    ),
    "zipnn_decompress_delta": (
        zipnn_status,
        [_opts_p, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p, c_size_t, _size_p],
    ),
    "zipnn_decompress_delta_chunk": (
        zipnn_status,
        [c_void_p, c_size_t, c_void_p, c_size_t, c_uint64, c_void_p, c_size_t, _size_p],
    ),
    # What the reference package wrote, rewritten in zipnn's format.
    "zipnn_convert_bound": (zipnn_status, [_opts_p, c_void_p, c_size_t, _size_p]),
    "zipnn_convert": (
        zipnn_status,
        [_opts_p, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p, c_size_t, _size_p],
    ),
    # Safetensors archives: the handle is an opaque pointer (c_void_p). Paths are
    # NUL-terminated UTF-8 (c_char_p, pass bytes). header_json's out-pointer is a
    # c_void_p because the JSON is not NUL-terminated (read it with ctypes.string_at).
    "zipnn_safetensors_compress_bound": (zipnn_status, [_opts_p, c_void_p, c_size_t, _size_p]),
    "zipnn_safetensors_compress": (
        zipnn_status,
        [_opts_p, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p, c_size_t, _size_p],
    ),
    "zipnn_archive_open_memory": (zipnn_status, [c_void_p, c_size_t, _opts_p, POINTER(c_void_p)]),
    "zipnn_archive_open_file": (zipnn_status, [c_char_p, _opts_p, POINTER(c_void_p)]),
    "zipnn_archive_free": (None, [c_void_p]),
    "zipnn_archive_set_base_memory": (zipnn_status, [c_void_p, c_void_p, c_size_t]),
    "zipnn_archive_set_base_file": (zipnn_status, [c_void_p, c_char_p]),
    "zipnn_archive_tensor_count": (zipnn_status, [c_void_p, _size_p]),
    "zipnn_archive_find": (zipnn_status, [c_void_p, c_void_p, c_size_t, _size_p]),
    "zipnn_archive_tensor_info": (zipnn_status, [c_void_p, c_size_t, POINTER(zipnn_tensor_info)]),
    "zipnn_archive_decode": (zipnn_status, [c_void_p, c_size_t, c_void_p, c_size_t, _size_p]),
    "zipnn_archive_decode_many": (
        zipnn_status,
        [c_void_p, _size_p, POINTER(c_void_p), _size_p, c_size_t, _size_p],
    ),
    "zipnn_archive_header_json": (zipnn_status, [c_void_p, POINTER(c_void_p), _size_p]),
    "zipnn_archive_restored_size": (zipnn_status, [c_void_p, _u64_p]),
    "zipnn_archive_restore": (zipnn_status, [c_void_p, c_void_p, c_size_t, _size_p]),
    "zipnn_archive_decode_alloc_size": (zipnn_status, [c_void_p, c_size_t, _size_p]),
    "zipnn_archive_restore_alloc_size": (zipnn_status, [c_void_p, _size_p]),
}


def bind(lib: ctypes.CDLL) -> List[str]:
    """Sets restype/argtypes on every function of FUNCTIONS; returns the names missing."""
    missing = []
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    return missing
