"""Round trips for every dtype, method and input kind; outputs; frame inspection."""

import hashlib
import os

import pytest

import zipnn
from conftest import bf16_like

DTYPES = ["raw", "bf16", "fp16", "fp32", "fp64", "fp8_e4m3", "fp8_e5m2", "int8", "uint8"]
SIZES = [0, 1, 7, 1023, 4096, 300_001]


def payload(n, seed=1):
    if n == 0:
        return b""
    data = bytearray(bf16_like((n + 1) // 2, seed))[:n]
    data[: n // 5] = bytes(n // 5)  # a run of zeros too
    return bytes(data)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_bytes_every_dtype(dtype, size):
    data = payload(size)
    frame = zipnn.compress(data, dtype=dtype)
    assert isinstance(frame, bytes)
    assert zipnn.decompress(frame) == data
    info = zipnn.frame_info(frame)
    assert info.dtype == dtype and info.original_size == size and info.frame_size == len(frame)
    assert zipnn.decompressed_size(frame) == size
    assert zipnn.verify(frame) is True


@pytest.mark.parametrize("method", ["auto", "huffman", "zstd", "lz4", "snappy", "raw", "ZSTD"])
@pytest.mark.parametrize("level", [None, "fast", 2, "max"])
def test_methods_and_levels(method, level):
    data = payload(200_000)
    frame = zipnn.compress(data, dtype="bf16", method=method, level=level, threads=1)
    assert zipnn.decompress(frame) == data


@pytest.mark.parametrize("bg", [1, 2, 4, 8])
def test_raw_byte_grouping(bg):
    data = payload(100_003)
    assert zipnn.decompress(zipnn.compress(data, bg_partitions=bg)) == data
    assert zipnn.frame_info(zipnn.compress(data, bg_partitions=bg)).planes == bg


def test_options_roundtrip():
    data = payload(300_000)
    frame = zipnn.compress(data, dtype="bf16", chunk_size=4096, zstd_level=9, lz4_level=5,
                           threshold=0.5, threads=2, method="zstd")
    assert zipnn.frame_info(frame).chunk_size == 4096
    assert zipnn.decompress(frame, threads=1) == data
    assert zipnn.decompress(frame, max_size=len(data)) == data


def test_compression_pays_on_bf16():
    data = bf16_like(1 << 20)
    assert len(zipnn.compress(data, dtype="bf16")) < 0.75 * len(data)


def test_dtype_aliases_and_objects():
    np = pytest.importorskip("numpy")
    data = payload(4000)
    for d in ["bfloat16", "float16", "half", "float32", "float64", "torch.bfloat16",
              np.float32, np.dtype("float16"), np.int8, np.uint8, "int32", "uint16"]:
        assert zipnn.decompress(zipnn.compress(data, dtype=d)) == data
    assert zipnn.frame_info(zipnn.compress(data, dtype="torch.bfloat16")).dtype == "bf16"
    assert zipnn.frame_info(zipnn.compress(data, dtype="int32")).planes == 4


# --- input kinds -------------------------------------------------------------------------
def kinds(data):
    yield "bytes", data
    yield "bytearray", bytearray(data)
    yield "memoryview(bytes)", memoryview(data)
    yield "memoryview slice", memoryview(b"xx" + data + b"yy")[2:-2]
    yield "writable memoryview", memoryview(bytearray(data))
    if len(data) % 4 == 0 and data:
        yield "memoryview cast", memoryview(bytearray(data)).cast("I")
        yield "readonly cast", memoryview(data).cast("f")


@pytest.mark.parametrize("size", [0, 8, 100_000])
def test_buffer_kinds(size):
    data = payload(size)
    ref = zipnn.compress(data, dtype="bf16")
    for name, obj in kinds(data):
        frame = zipnn.compress(obj, dtype="bf16")
        assert frame == ref, name
        assert zipnn.decompress(frame) == data, name
        # and frames given as any buffer
        assert zipnn.decompress(type(obj)(frame) if isinstance(obj, (bytes, bytearray)) else memoryview(frame)) == data


def test_non_contiguous_memoryview():
    data = payload(10_000)
    strided = memoryview(bytearray(data))[::2]
    assert not strided.contiguous
    assert zipnn.decompress(zipnn.compress(strided)) == data[::2]


def test_mmap_input(tmp_path):
    import mmap

    data = payload(50_000)
    p = tmp_path / "f"
    p.write_bytes(data)
    with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert zipnn.decompress(zipnn.compress(m, dtype="bf16")) == data


def test_bad_input_type():
    with pytest.raises(TypeError):
        zipnn.compress("a str")
    with pytest.raises(TypeError):
        zipnn.compress(12345)


# --- outputs -----------------------------------------------------------------------------
def test_into_variants():
    np = pytest.importorskip("numpy")
    data = payload(123_457)
    bound = zipnn.compress_bound(len(data), dtype="bf16")
    for dst in (bytearray(bound), memoryview(bytearray(bound)), np.zeros(bound, np.uint8)):
        n = zipnn.compress_into(dst, data, dtype="bf16")
        frame = bytes(memoryview(dst)[:n]) if not isinstance(dst, np.ndarray) else dst[:n].tobytes()
        assert frame == zipnn.compress(data, dtype="bf16")
        for out in (bytearray(len(data)), memoryview(bytearray(len(data) + 10)),
                    np.empty(len(data), np.uint8)):
            m = zipnn.decompress_into(out, frame)
            assert m == len(data)
            assert bytes(memoryview(out)[:m]) == data


def test_decompress_out_kinds():
    data = payload(5000)
    frame = zipnn.compress(data)
    assert zipnn.decompress(frame, out="bytes") == data
    ba = zipnn.decompress(frame, out="bytearray")
    assert isinstance(ba, bytearray) and ba == data
    assert zipnn.decompress(frame, out="auto") == data  # no array metadata -> bytes


def test_portable_bytes_path(monkeypatch):
    from zipnn import _buffers

    monkeypatch.setattr(_buffers, "FAST_BYTES", False)
    data = payload(70_001)
    frame = zipnn.compress(data, dtype="bf16")
    assert zipnn.decompress(frame) == data
    assert zipnn.decompress_chunk(frame, 0) == data[: len(data) - len(data) % 2]


def test_zero_copy_results_are_ordinary_bytes():
    import sys

    data = payload(100_000)
    frame = zipnn.compress(data, dtype="bf16")
    out = zipnn.decompress(frame)
    assert type(frame) is bytes and type(out) is bytes
    assert sys.getrefcount(out) == 2  # only `out` and the call's argument
    assert hash(out) == hash(bytes(bytearray(data)))
    assert {out: 1}[data] == 1


def test_large_outputs_advised_huge_pages_decode_exactly(monkeypatch):
    """Outputs of 4 MiB and more are advised to be huge pages before the library writes
    them (on Linux): the advice is given, on whole pages inside the output, and the bytes
    decode exactly, on either side of the size."""
    from zipnn import _buffers

    calls = []
    real = _buffers._MADVISE

    def spy(addr, n, advice):
        calls.append((addr, n, advice))
        return real(addr, n, advice) if real is not None else 0

    monkeypatch.setattr(_buffers, "_MADVISE", spy)
    page = _buffers.mmap.PAGESIZE
    for size, advised in ((_buffers._HUGE_MIN - 2, False), (_buffers._HUGE_MIN + 4098, True)):
        data = payload(size)
        frame = zipnn.compress(data, dtype="bf16")
        calls.clear()
        assert zipnn.decompress(frame) == data
        assert bool(calls) == advised, (size, calls)
        for addr, n, advice in calls:
            assert advice == _buffers._MADV_HUGEPAGE and addr % page == 0 and n % page == 0
            assert n >= size - 2 * page


def test_decompress_chunk_random_access():
    data = payload(100_001)
    frame = zipnn.compress(data, dtype="fp32", chunk_size=8192)
    info = zipnn.frame_info(frame)
    assert info.chunk_count == (len(data) - len(data) % 4 + 8191) // 8192
    parts = [zipnn.decompress_chunk(frame, i) for i in range(info.chunk_count)]
    assert all(len(p) == 8192 for p in parts[:-1])
    assert b"".join(parts) == data[: len(data) - len(data) % 4]
    with pytest.raises(zipnn.InvalidOptionError) as e:
        zipnn.decompress_chunk(frame, info.chunk_count)
    assert e.value.code == -2


def test_frame_info_fields_and_trailing_bytes():
    data = payload(1000)
    frame = zipnn.compress(data, dtype="fp16", metadata=b"hello")
    info = zipnn.frame_info(frame + b"trailing")
    assert info.frame_size == len(frame)
    assert info.has_metadata and info.metadata_size == 5 and info.flags & 1
    assert info.planes == 2 and info.format_version == 2 and info.dtype_code == 2
    assert zipnn.get_metadata(frame) == b"hello"
    assert zipnn.get_metadata(zipnn.compress(data)) == b""
    assert zipnn.array_metadata(frame) is None


def test_dict_metadata():
    frame = zipnn.compress(b"abc" * 100, metadata={"name": "layer.0"})
    assert zipnn.array_metadata(frame)["user"] == {"name": "layer.0"}


def test_concurrent_frames_are_deterministic():
    data = payload(1_000_000)
    a = zipnn.compress(data, dtype="bf16", threads=1)
    b = zipnn.compress(data, dtype="bf16", threads=0)
    assert a == b


# --- files -------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 300_000])
def test_files(tmp_path, size):
    data = payload(size)
    src, mid, dst = tmp_path / "w.bin", tmp_path / "w.znn", tmp_path / "w.out"
    src.write_bytes(data)
    n = zipnn.compress_file(src, mid, dtype="bf16")
    assert n == mid.stat().st_size
    assert zipnn.decompress_file(str(mid), str(dst)) == size
    assert dst.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.bin", "w.out", "w.znn"]


def test_file_errors_leave_no_output(tmp_path):
    bad = tmp_path / "bad.znn"
    bad.write_bytes(b"not a frame at all, not at all")
    with pytest.raises(zipnn.NotAFrameError):
        zipnn.decompress_file(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(FileNotFoundError):
        zipnn.compress_file(tmp_path / "missing", tmp_path / "x")


# --- cross-language vectors --------------------------------------------------------------
EXPECT = {
    "BadMagic": zipnn.NotAFrameError, "UnsupportedVersion": zipnn.UnsupportedVersionError,
    "UnsupportedFlags": zipnn.UnsupportedFlagsError, "UnsupportedDtype": zipnn.UnsupportedDtypeError,
    "UnsupportedCodec": zipnn.UnsupportedCodecError, "Truncated": zipnn.TruncatedError,
    "Corrupt": zipnn.CorruptDataError, "Checksum": zipnn.ChecksumError,
    "BaseRequired": zipnn.BaseRequiredError,
}


def vectors(root):
    manifest = root / "tests" / "vectors" / "manifest.tsv"
    if not manifest.is_file():
        pytest.skip("tests/vectors/manifest.tsv not found")
    for line in manifest.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        yield dict(zip(["name", "kind", "dtype", "method", "chunk_size", "bg", "input", "frame",
                        "expect"], line.split("\t")))


def test_vectors_valid(root):
    base = root / "tests" / "vectors"
    seen = 0
    for v in vectors(root):
        if v["kind"] != "valid":
            continue
        frame = (base / v["frame"]).read_bytes()
        plain = (base / v["input"]).read_bytes()
        assert zipnn.decompress(frame) == plain, v["name"]
        assert hashlib.sha256(zipnn.decompress(frame)).digest() == hashlib.sha256(plain).digest()
        again = zipnn.compress(plain, dtype=v["dtype"], method=v["method"].lower(),
                               chunk_size=int(v["chunk_size"]), bg_partitions=int(v["bg"]))
        assert zipnn.decompress(again) == plain, v["name"]
        seen += 1
    assert seen > 5


def test_vectors_delta(root):
    """tests/vectors/delta.tsv (name, dtype, input, base, frame): every delta frame decodes to
    its input with its base, and raises BaseRequiredError without one and BaseMismatchError
    with another base of the same length."""
    base_dir = root / "tests" / "vectors"
    manifest = base_dir / "delta.tsv"
    if not manifest.is_file():
        pytest.skip("tests/vectors/delta.tsv not found")
    seen = 0
    for line in manifest.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _dtype, inp, base, frm = line.split("\t")
        plain = (base_dir / inp).read_bytes()
        b = (base_dir / base).read_bytes()
        frame = (base_dir / frm).read_bytes()
        assert zipnn.decompress(frame, base=b) == plain, name
        with pytest.raises(zipnn.BaseRequiredError):
            zipnn.decompress(frame)
        other = bytearray(b)
        other[0] ^= 1
        with pytest.raises(zipnn.BaseMismatchError):
            zipnn.decompress(frame, base=bytes(other))
        seen += 1
    assert seen >= 1


def test_vectors_invalid(root):
    base = root / "tests" / "vectors"
    seen = 0
    for v in vectors(root):
        if v["kind"] != "invalid":
            continue
        frame = (base / v["frame"]).read_bytes()
        cls = EXPECT.get(v["expect"])
        assert cls is not None, f"{v['name']}: unknown expectation {v['expect']!r}"
        with pytest.raises(cls) as e:
            zipnn.decompress(frame)
        assert e.value.code == cls.default_code, (v["name"], type(e.value))
        seen += 1
    assert seen > 5
