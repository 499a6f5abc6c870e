"""zipnn.CompressStream / DecompressStream and the streaming file functions."""

from __future__ import annotations

import gc
import io
import os
import random
import tracemalloc

import pytest

import zipnn

MiB = 1 << 20


def payload(n: int, seed: int = 1) -> bytes:
    """Weight-like bytes: small random values in the low byte of each bf16 pair."""
    rng = random.Random(seed)
    body = bytes(rng.getrandbits(8) & 0x3F if i % 2 else 0x3C for i in range(min(n, 65536)))
    reps = n // len(body) + 1 if body else 0
    return (body * reps)[:n]


def feed_compress(data: bytes, piece: int, **kw) -> bytes:
    with zipnn.CompressStream(**kw) as cs:
        out = [cs.compress(data[i:i + piece]) for i in range(0, len(data), piece)]
        out.append(cs.finish())
    return b"".join(out)


def feed_decompress(stream: bytes, piece: int, **kw) -> bytes:
    with zipnn.DecompressStream(**kw) as ds:
        out = [ds.decompress(stream[i:i + piece]) for i in range(0, len(stream), piece)]
        out.append(ds.finish())
    return b"".join(out)


# --- stream objects ----------------------------------------------------------------------
@pytest.mark.parametrize("block_size", [1024, 0])
@pytest.mark.parametrize("piece", [1, 7, 4093, 65537])
def test_stream_round_trip_any_cut(piece, block_size):
    n = 20_000 if piece == 1 else 300_000
    data = payload(n)
    whole = feed_compress(data, len(data), dtype="bf16", block_size=block_size)
    assert whole[:4] == b"\x89ZNS"
    # The stream does not depend on how the input is cut.
    assert feed_compress(data, piece, dtype="bf16", block_size=block_size) == whole
    assert feed_decompress(whole, piece) == data


def test_stream_small_output_buffer():
    data = payload(200_000)
    s = feed_compress(data, 5000, dtype="bf16", block_size=4096)
    with zipnn.CompressStream(dtype="bf16", block_size=4096, out_size=1) as cs:
        assert cs.compress(data) + cs.finish() == s
    with zipnn.DecompressStream(out_size=3) as ds:
        assert ds.decompress(s) + ds.finish() == data


@pytest.mark.parametrize("block_size", [1024, 0])
def test_empty_stream(block_size):
    s = feed_compress(b"", 1, block_size=block_size)
    assert s[:4] == b"\x89ZNS"
    assert feed_decompress(s, 3) == b""
    with zipnn.CompressStream(block_size=block_size) as cs:
        assert cs.compress(b"") + cs.finish() == s  # the header may come out at once
        assert cs.finish() == b""


def test_stream_inputs_of_other_kinds():
    np = pytest.importorskip("numpy")
    arr = np.arange(100_000, dtype=np.float32)
    data = arr.tobytes()
    with zipnn.CompressStream(dtype="fp32", block_size=65536) as cs:
        s = cs.compress(arr) + cs.compress(bytearray(b"")) + cs.finish()
    assert s == feed_compress(data, 999, dtype="fp32", block_size=65536)
    with zipnn.DecompressStream() as ds:
        assert ds.decompress(memoryview(bytearray(s))) + ds.finish() == data


def test_truncated_stream_raises():
    s = feed_compress(payload(100_000), 4096, dtype="bf16", block_size=8192)
    for cut in (1, 3, 10, len(s) // 2, len(s) - 1):
        ds = zipnn.DecompressStream()
        ds.decompress(s[:cut])
        with pytest.raises(zipnn.TruncatedError):
            ds.finish()
        ds.close()
    with zipnn.DecompressStream() as ds, pytest.raises(zipnn.TruncatedError):
        ds.finish()


def test_corrupt_stream_raises():
    s = bytearray(feed_compress(payload(100_000), 4096, dtype="bf16", block_size=8192))
    for pos in (0, 5, 40, len(s) // 2, len(s) - 20, len(s) - 1):
        bad = bytearray(s)
        bad[pos] ^= 0x41
        with pytest.raises(zipnn.ZipNNError):
            feed_decompress(bytes(bad), 1000)
    with pytest.raises(zipnn.ZipNNError):  # bytes after the trailer
        feed_decompress(bytes(s) + b"x", 1000)


def test_error_sticks_and_close_is_idempotent():
    ds = zipnn.DecompressStream()
    with pytest.raises(zipnn.NotAFrameError):
        ds.decompress(b"definitely not a stream")
    with pytest.raises(zipnn.NotAFrameError):
        ds.decompress(b"")
    ds.close()
    ds.close()
    assert ds.closed
    with pytest.raises(zipnn.InvalidOptionError):
        ds.decompress(b"x")
    cs = zipnn.CompressStream()
    cs.finish()
    with pytest.raises(zipnn.InvalidOptionError):
        cs.compress(b"more")  # after finish()
    assert cs.finish() == b""
    cs.close()
    cs.close()
    with pytest.raises(zipnn.InvalidOptionError):
        cs.compress(b"x")
    # __del__ backstop: dropping an open stream frees it without error.
    zipnn.CompressStream().compress(b"abc")
    zipnn.DecompressStream()
    gc.collect()


def test_stream_options():
    with pytest.raises(zipnn.InvalidOptionError):
        zipnn.CompressStream(block_size=100)  # below the minimum
    with pytest.raises(zipnn.InvalidOptionError):
        zipnn.CompressStream(block_size=zipnn.STREAM_MAX_BLOCK_SIZE + 1)
    with pytest.raises(zipnn.UnsupportedDtypeError):
        zipnn.CompressStream(dtype="complex-ish")
    with pytest.raises(zipnn.UnsupportedMethodError):
        zipnn.CompressStream(method="gzip")
    data = payload(50_000)
    for method in ("zstd", "lz4", "huffman", "raw"):
        assert feed_decompress(feed_compress(data, 3000, method=method, block_size=4096), 777) == data
    s = feed_compress(data, 50_000, block_size=4096)
    with pytest.raises(zipnn.LimitExceededError):
        feed_decompress(s, 1000, max_size=10_000)
    assert feed_decompress(s, 1000, max_size=50_000) == data


# --- files -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,elem", [("bf16", 2), ("fp16", 2), ("fp32", 4), ("fp64", 8),
                                        ("fp8_e4m3", 1), ("int8", 1), ("raw", 1)])
def test_file_round_trip_dtypes(tmp_path, dtype, elem):
    data = payload(200_000 * elem // 2 + 3)
    src, mid, dst = tmp_path / "w.bin", tmp_path / "w.znn", tmp_path / "w.out"
    src.write_bytes(data)
    n = zipnn.compress_file(src, mid, dtype=dtype, block_size=64 * 1024)
    assert n == mid.stat().st_size
    assert mid.read_bytes()[:4] == b"\x89ZNS"
    assert zipnn.decompress_file(mid, dst) == len(data)
    assert dst.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.bin", "w.out", "w.znn"]


def test_file_larger_than_blocks(tmp_path):
    data = payload(3 * MiB + 12345)
    src, mid, dst = tmp_path / "w.bin", tmp_path / "w.znn", tmp_path / "w.out"
    src.write_bytes(data)
    n = zipnn.compress_file(src, mid, dtype="bf16", block_size=MiB, piece_size=777_777)
    stream = mid.read_bytes()
    assert n == len(stream)
    # Same bytes as the stream object fed in other pieces.
    assert stream == feed_compress(data, 65537, dtype="bf16", block_size=MiB)
    assert zipnn.decompress_file(mid, dst, piece_size=100_003) == len(data)
    assert dst.read_bytes() == data


def test_old_single_frame_file_still_decompresses(tmp_path):
    data = payload(300_000)
    old, dst = tmp_path / "old.znn", tmp_path / "old.out"
    old.write_bytes(zipnn.compress(data, dtype="bf16"))  # what the whole-file version wrote
    assert old.read_bytes()[:4] == b"\x89ZNN"
    assert zipnn.decompress_file(old, dst) == len(data)
    assert dst.read_bytes() == data


def test_file_errors_leave_no_output(tmp_path):
    s = feed_compress(payload(100_000), 100_000, block_size=8192)
    for name, content, exc in (("trunc", s[:-7], zipnn.TruncatedError),
                               ("garbage", b"not a stream, not a frame", zipnn.NotAFrameError),
                               ("empty", b"", zipnn.ZipNNError)):
        bad = tmp_path / f"{name}.znn"
        bad.write_bytes(content)
        with pytest.raises(exc):
            zipnn.decompress_file(bad, tmp_path / "out")
        assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    # An existing destination is left as it was when decompression fails.
    (tmp_path / "keep").write_bytes(b"old")
    with pytest.raises(zipnn.TruncatedError):
        zipnn.decompress_file(tmp_path / "trunc.znn", tmp_path / "keep")
    assert (tmp_path / "keep").read_bytes() == b"old"
    with pytest.raises(zipnn.InvalidOptionError):
        zipnn.compress_file(tmp_path / "keep", tmp_path / "x", block_size=5)
    assert not (tmp_path / "x").exists()


def test_compress_file_reads_bounded_pieces(tmp_path, monkeypatch):
    """compress_file/decompress_file never ask for more than piece_size bytes at once."""
    data = payload(5 * MiB)
    src, mid, dst = tmp_path / "w.bin", tmp_path / "w.znn", tmp_path / "w.out"
    src.write_bytes(data)
    sizes = []
    real_open = open

    class Spy(io.BufferedReader):
        def read(self, size=-1):
            sizes.append(size)
            return super().read(size)

    def spy_open(path, mode="r", *a, **kw):
        if mode == "rb":
            return Spy(io.FileIO(path, "rb"))
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr("builtins.open", spy_open)
    zipnn.compress_file(src, mid, block_size=MiB, piece_size=256 * 1024)
    assert sizes and all(0 < s <= 256 * 1024 for s in sizes)
    sizes.clear()
    zipnn.decompress_file(mid, dst, piece_size=64 * 1024)
    assert sizes and all(0 < s <= 64 * 1024 for s in sizes)
    monkeypatch.undo()
    assert dst.read_bytes() == data


def test_file_memory_is_bounded(tmp_path):
    """Peak Python allocations for a 32 MiB file stay at a few 1 MiB blocks."""
    size = 32 * MiB
    src, mid, dst = tmp_path / "big.bin", tmp_path / "big.znn", tmp_path / "big.out"
    with open(src, "wb") as f:
        piece = payload(MiB)
        for _ in range(size // MiB):
            f.write(piece)
        del piece
    gc.collect()
    tracemalloc.start()
    try:
        zipnn.compress_file(src, mid, dtype="bf16", block_size=MiB, piece_size=MiB)
        _, peak_c = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        zipnn.decompress_file(mid, dst)
        _, peak_d = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_c < 6 * MiB, peak_c
    assert peak_d < 6 * MiB + zipnn._api.FILE_PIECE_SIZE, peak_d
    assert os.path.getsize(dst) == size
    with open(src, "rb") as a, open(dst, "rb") as b:
        while True:
            x, y = a.read(4 * MiB), b.read(4 * MiB)
            assert x == y
            if not x:
                break
