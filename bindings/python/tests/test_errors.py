"""Every error path: each exception class, its .code and the library's message."""

import ctypes
import os

import pytest

import zipnn
from zipnn import _api, _errors, _ffi
from conftest import bf16_like

DATA = bf16_like(50_000)
FRAME = zipnn.compress(DATA, dtype="bf16")


def raises(cls, code, fn, *a, **kw):
    with pytest.raises(cls) as e:
        fn(*a, **kw)
    assert type(e.value) is cls, type(e.value)
    assert e.value.code == code
    assert isinstance(e.value, zipnn.ZipNNError)
    assert e.value.message
    return e.value


def test_error_strings_for_every_code():
    for code, cls in _errors.ERROR_CLASSES.items():
        msg = zipnn.error_string(code)
        assert msg and msg != "unknown status", code
        err = cls(msg, code=code)
        assert err.code == cls.default_code == code
        assert str(code) in str(err)
    assert zipnn.error_string(-9999) == "unknown status"
    assert zipnn.error_string(0)


def test_check_maps_every_code():
    # Statuses the public API cannot provoke on purpose (ALLOC, INTERNAL, PANIC) still map.
    for code, cls in _errors.ERROR_CLASSES.items():
        with pytest.raises(cls) as e:
            _api._check(code, "test")
        assert e.value.code == code
        assert e.value.message == zipnn.error_string(code)
    with pytest.raises(zipnn.ZipNNError) as e:
        _api._check(-777, "test")
    assert e.value.code == -777 and type(e.value) is zipnn.ZipNNError
    assert issubclass(zipnn.AllocationError, MemoryError)
    assert issubclass(zipnn.PanicError, zipnn.InternalError)


def test_null_pointer_from_library():
    buf = ctypes.create_string_buffer(100)
    st = zipnn._lib.lib().zipnn_compress(None, b"x", 1, buf, 100, None)
    assert st == _ffi.ZIPNN_ERROR_NULL_POINTER
    with pytest.raises(zipnn.NullPointerError) as e:
        _api._check(st, "zipnn_compress")
    assert e.value.code == -1 and isinstance(e.value, zipnn.InvalidOptionError)


def test_invalid_param_from_library():
    for kw in ({"chunk_size": 5}, {"threshold": 2.0}, {"bg_partitions": 3},
               {"dtype": "bf16", "bg_partitions": 4}, {"zstd_level": 99}, {"lz4_level": 13},
               {"threads": 5000}, {"chunk_size": 1025, "dtype": "fp32"}, {"level": 7}):
        e = raises(zipnn.InvalidOptionError, -2, zipnn.compress, DATA, **kw)
        assert "invalid" in e.message.lower() or e.message


def test_invalid_param_from_binding():
    raises(zipnn.InvalidOptionError, -2, zipnn.compress, DATA, threads=-1)
    raises(zipnn.InvalidOptionError, -2, zipnn.compress, DATA, chunk_size="big")
    raises(zipnn.InvalidOptionError, -2, zipnn.compress, DATA, level="huge")
    raises(zipnn.InvalidOptionError, -2, zipnn.decompress, FRAME, out="list")
    raises(zipnn.InvalidOptionError, -2, zipnn.decompress_into, b"read-only", FRAME)


def test_overlapping_buffers():
    buf = bytearray(zipnn.compress_bound(1000) + 1000)
    buf[:1000] = DATA[:1000]
    mv = memoryview(buf)
    raises(zipnn.InvalidOptionError, -2, zipnn.compress_into, mv, mv[:1000])


def test_unsupported_dtype_and_method():
    raises(zipnn.UnsupportedDtypeError, -3, zipnn.compress, DATA, dtype=99)
    raises(zipnn.UnsupportedDtypeError, -3, zipnn.compress, DATA, dtype="float128x")
    raises(zipnn.UnsupportedMethodError, -4, zipnn.compress, DATA, method=99)
    raises(zipnn.UnsupportedMethodError, -4, zipnn.compress, DATA, method="gzip")
    assert issubclass(zipnn.UnsupportedDtypeError, zipnn.UnsupportedError)


def test_buffer_too_small_leaves_dst_unchanged():
    dst = bytearray(b"\xAA" * 100)
    raises(zipnn.BufferTooSmallError, -10, zipnn.compress_into, dst, DATA, dtype="bf16")
    assert dst == b"\xAA" * 100
    out = bytearray(b"\x55" * (len(DATA) - 1))
    raises(zipnn.BufferTooSmallError, -10, zipnn.decompress_into, out, FRAME)
    assert out == b"\x55" * (len(DATA) - 1)


def test_source_too_large():
    raises(zipnn.SourceTooLargeError, -11, zipnn.compress_bound, 2**64 - 1)


def test_limit_exceeded():
    raises(zipnn.LimitExceededError, -12, zipnn.decompress, FRAME, max_size=len(DATA) - 1)
    raises(zipnn.LimitExceededError, -12, zipnn.decompress_into, bytearray(len(DATA)), FRAME,
           max_size=10)


def mutate(frame, offset, value):
    b = bytearray(frame)
    b[offset] = value
    return bytes(b)


def test_frame_errors():
    raises(zipnn.NotAFrameError, -20, zipnn.decompress, b"\x00" * 100)
    raises(zipnn.NotAFrameError, -20, zipnn.frame_info, b"PK\x03\x04" * 20)
    # A hand-edited header also breaks the header checksum; which check the library runs
    # first is its choice, so either error is right here. The exact statuses are pinned by
    # the cross-language vectors (test_roundtrip.py::test_vectors_invalid), whose checksums
    # are recomputed.
    for offset, value, cls in ((4, 9, zipnn.UnsupportedVersionError),
                               (5, 0x80, zipnn.UnsupportedFlagsError),
                               (6, 200, zipnn.UnsupportedDtypeError)):
        with pytest.raises((cls, zipnn.ChecksumError)) as e:
            zipnn.decompress(mutate(FRAME, offset, value))
        assert e.value.code in (cls.default_code, -32)
    raises(zipnn.TruncatedError, -30, zipnn.decompress, FRAME[:-1])
    raises(zipnn.TruncatedError, -30, zipnn.decompress, FRAME[:20])
    raises(zipnn.CorruptDataError, -31, zipnn.decompress, FRAME + b"\x00")
    raises(zipnn.ChecksumError, -32, zipnn.decompress, mutate(FRAME, len(FRAME) - 10, FRAME[-10] ^ 1))
    raises(zipnn.ChecksumError, -32, zipnn.verify, mutate(FRAME, len(FRAME) - 10, FRAME[-10] ^ 1))
    raises(zipnn.ChecksumError, -32, zipnn.decompress_chunk, mutate(FRAME, len(FRAME) - 10, FRAME[-10] ^ 1), 0)
    raises(zipnn.TruncatedError, -30, zipnn.verify, FRAME[:-3])
    assert issubclass(zipnn.ChecksumError, zipnn.CorruptDataError)
    assert issubclass(zipnn.TruncatedError, zipnn.CorruptDataError)
    assert issubclass(zipnn.NotAFrameError, zipnn.CorruptDataError)
    # the vectors cover UNSUPPORTED_CODEC (it needs a recomputed header checksum)


def test_damaged_frame_leaves_dst_unchanged():
    out = bytearray(b"\x11" * len(DATA))
    bad = mutate(FRAME, len(FRAME) - 10, FRAME[-10] ^ 1)
    with pytest.raises(zipnn.ChecksumError):
        zipnn.decompress_into(out, bad)
    assert out == b"\x11" * len(DATA)


def test_array_errors():
    np = pytest.importorskip("numpy")
    frame = zipnn.compress(np.arange(10, dtype=np.float32))
    raises(zipnn.InvalidOptionError, -2, zipnn.decompress, frame, out="numpy", shape=(3, 3))
    raises(zipnn.InvalidOptionError, -2, zipnn.decompress, zipnn.compress(b"abc"), out="numpy",
           dtype="float32")
    raises(zipnn.InvalidOptionError, -2, zipnn.compress, np.zeros(3), metadata=b"raw bytes")
    raises(zipnn.InvalidOptionError, -2, zipnn.compress, b"x", metadata={"a": object()})
    raises(zipnn.InvalidOptionError, -2, zipnn.decompress_into, np.zeros((4, 4))[:, ::2], frame)
    ro = np.zeros(100, np.uint8)
    ro.flags.writeable = False
    raises(zipnn.InvalidOptionError, -2, zipnn.decompress_into, ro, frame)


def test_classes_of_the_delta_archive_and_file_codes():
    assert _errors.ERROR_CLASSES[-5] is zipnn.BaseRequiredError
    assert _errors.ERROR_CLASSES[-6] is zipnn.BaseMismatchError
    assert _errors.ERROR_CLASSES[-7] is zipnn.NotFoundError
    assert _errors.ERROR_CLASSES[-41] is zipnn.FileIOError
    for cls in (zipnn.BaseRequiredError, zipnn.BaseMismatchError):
        assert issubclass(cls, zipnn.DeltaBaseError) and issubclass(cls, ValueError)
    assert issubclass(zipnn.NotFoundError, KeyError)
    assert issubclass(zipnn.FileIOError, OSError)
    e = zipnn.NotFoundError(zipnn.error_string(-7), detail="tensor 'x'")
    assert str(e) == "tensor 'x': no tensor of that name (zipnn status -7)"  # not repr'd
    e = zipnn.FileIOError(zipnn.error_string(-41), detail="open", filename="/x")
    assert e.filename == "/x" and e.code == -41 and "could not be opened" in str(e)


def test_error_table_is_the_library_list():
    """ERROR_CLASSES has exactly the codes the library names (its one error list), and
    every class's default code is one of them."""
    from zipnn._errors import ERROR_CLASSES

    known = {c for c in range(-256, 0) if zipnn.error_string(c) != "unknown status"}
    assert len(known) >= 20
    assert set(ERROR_CLASSES) == known
    for code, cls in ERROR_CLASSES.items():
        assert cls.default_code == code, cls
