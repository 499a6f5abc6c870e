#!/usr/bin/env python3
"""Side-by-side benchmark: zipnn (this library, through its C ABI) against the reference
package (PyPI `zipnn` 0.5.4) and zstd level 3, on real weights, in one run.

    benches/compare.sh [CORPUS_DIR] [FILE:DTYPE ...]      # sets up a venv, then runs this

For each file it prints a markdown table: ratio (compressed / original), compress and
decompress MB/s at 1 thread and at all cores, for zipnn at each level, for the reference
and for zstd -3 on the plain bytes, plus the per-chunk order-0 entropy bound (the sum over
256 KiB chunks and planes of each plane-chunk's order-0 entropy). Every row is checked to
round trip. Speeds are the best of several runs (MB = 10^6 bytes)."""
import ctypes
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHUNK = 256 * 1024
DTYPES = {"raw": 0, "bf16": 1, "fp16": 2, "fp32": 3, "fp64": 4, "fp8_e4m3": 5, "fp8_e5m2": 6, "int8": 7, "uint8": 8}
REF_DTYPE = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


class Opts(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("dtype", ctypes.c_uint32), ("method", ctypes.c_uint32),
                ("level", ctypes.c_int32), ("threads", ctypes.c_uint32), ("chunk_size", ctypes.c_uint32),
                ("zstd_level", ctypes.c_int32), ("lz4_level", ctypes.c_int32), ("threshold", ctypes.c_float),
                ("bg_partitions", ctypes.c_uint32), ("max_decompressed_size", ctypes.c_uint64),
                ("lossy_mode", ctypes.c_uint32), ("lossy_param", ctypes.c_uint32), ("target", ctypes.c_uint32),
                ("reserved", ctypes.c_uint32 * 5)]


def load_lib():
    path = os.environ.get("ZIPNN_LIBRARY_PATH", os.path.join(ROOT, "target", "release", "libzipnn.so"))
    lib = ctypes.CDLL(path)
    sz = ctypes.c_size_t
    lib.zipnn_options_init.argtypes = [ctypes.POINTER(Opts)]
    lib.zipnn_compress_bound.argtypes = [ctypes.POINTER(Opts), sz, ctypes.POINTER(sz)]
    lib.zipnn_compress.argtypes = [ctypes.POINTER(Opts), ctypes.c_void_p, sz, ctypes.c_void_p, sz, ctypes.POINTER(sz)]
    lib.zipnn_decompress_with_options.argtypes = [ctypes.POINTER(Opts), ctypes.c_void_p, sz, ctypes.c_void_p, sz,
                                                  ctypes.POINTER(sz)]
    return lib


def best(runs, fn):
    t = float("inf")
    out = None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t, out


def entropy_bound(data, dtype):
    """Per-chunk order-0 entropy of the planes zipnn's transform makes, as a fraction."""
    b = np.frombuffer(data, dtype=np.uint8)
    if dtype == "bf16":
        v = b[: len(b) // 2 * 2].view(np.uint16).astype(np.uint32)
        planes, esize = [(v >> 7) & 0xFF, ((v >> 8) & 0x80) | (v & 0x7F)], 2
    elif dtype == "fp16":
        v = b[: len(b) // 2 * 2].view(np.uint16).astype(np.uint32)
        r = ((v << 1) | (v >> 15)) & 0xFFFF
        planes, esize = [r >> 8, r & 0xFF], 2
    elif dtype == "fp32":
        v = b[: len(b) // 4 * 4].view(np.uint32)
        planes, esize = [(v >> 23) & 0xFF, ((v >> 24) & 0x80) | ((v >> 16) & 0x7F), (v >> 8) & 0xFF, v & 0xFF], 4
    else:
        planes, esize = [b], 1
    ce = CHUNK // esize
    total = 0.0
    for p in planes:
        p = p.astype(np.uint8)
        for i in range(0, len(p), ce):
            c = np.bincount(p[i:i + ce], minlength=256)
            c = c[c > 0]
            total += -(c * np.log2(c / c.sum())).sum() / 8
    return total / len(data)


def zipnn_row(lib, data, dtype, level, threads, runs, target=0):
    o = Opts()
    lib.zipnn_options_init(ctypes.byref(o))
    o.dtype, o.level, o.threads, o.target = DTYPES[dtype], level, threads, target
    bound = ctypes.c_size_t()
    if lib.zipnn_compress_bound(ctypes.byref(o), len(data), ctypes.byref(bound)) != 0:
        raise RuntimeError("zipnn_compress_bound failed")
    cap = bound.value
    dst = ctypes.create_string_buffer(cap)
    n = ctypes.c_size_t()

    def comp():
        s = lib.zipnn_compress(ctypes.byref(o), data, len(data), dst, cap, ctypes.byref(n))
        assert s == 0, s
        return n.value

    tc, clen = best(runs, comp)
    frame = dst.raw[:clen]
    out = ctypes.create_string_buffer(len(data))
    m = ctypes.c_size_t()

    def dec():
        s = lib.zipnn_decompress_with_options(ctypes.byref(o), frame, clen, out, len(data), ctypes.byref(m))
        assert s == 0, s

    td, _ = best(runs, dec)
    assert m.value == len(data) and out.raw == data, "zipnn round trip failed"
    return clen, tc, td


def ref_row(data, dtype, threads, runs):
    from zipnn import ZipNN  # the reference package
    z = ZipNN(input_format="byte", bytearray_dtype=REF_DTYPE[dtype], threads=threads)
    # Its compress writes into the buffer it is given: hand it a fresh copy every time.
    copies = [bytearray(data) for _ in range(runs)]
    it = iter(copies)
    tc, c = best(runs, lambda: z.compress(next(it)))
    c = bytes(c)
    # Its decompress takes a bytearray and leaves it as it was (checked below): one copy,
    # made outside the timed calls, so that the rows time decoding and not a 30 MB copy.
    cb = bytearray(c)
    td, d = best(runs, lambda: z.decompress(cb))
    assert bytes(d) == data, "reference round trip failed"
    assert cb == c, "the reference's decompress changed its input"
    return len(c), tc, td


def zstd_row(data, threads, runs):
    import zstandard
    cz = zstandard.ZstdCompressor(level=3, threads=0 if threads == 1 else -1)
    dz = zstandard.ZstdDecompressor()
    tc, c = best(runs, lambda: cz.compress(data))
    td, d = best(runs, lambda: dz.decompress(c, max_output_size=len(data)))
    assert d == data, "zstd round trip failed"
    return len(c), tc, td


def files_of(argv):
    """The (path, dtype) pairs a command line names: a directory is the corpus, FILE:DTYPE a
    file; by default MiniLM bf16, fp16 and fp32 from the corpus."""
    corpus = os.environ.get("ZIPNN_CORPUS", os.path.join(ROOT, "corpus"))
    files = []
    for a in argv:
        if os.path.isdir(a):
            corpus = a
        else:
            p, _, d = a.rpartition(":")
            files.append((p, d))
    if not files:
        files = [(os.path.join(corpus, f), d) for f, d in
                 [("minilm.bf16.raw", "bf16"), ("minilm.f16.raw", "fp16"), ("minilm.f32.raw", "fp32")]]
    return files


def main(argv):
    files = files_of(argv)
    lib = load_lib()
    ncpu = os.cpu_count() or 1
    runs = int(os.environ.get("ZIPNN_BENCH_RUNS", "5"))
    print(f"machine: {os.uname().machine}, {ncpu} cores; best of {runs} runs; MB = 10^6 bytes\n")
    for path, dtype in files:
        data = open(path, "rb").read()
        mb = len(data) / 1e6
        print(f"### {os.path.basename(path)} ({dtype}, {len(data)} bytes)\n")
        print(f"per-chunk order-0 entropy bound: **{entropy_bound(data, dtype):.4f}**\n")
        print("| codec | threads | ratio | compress MB/s | decompress MB/s |")
        print("|---|---|---|---|---|")
        rows = []
        for name, level, target in [("zipnn fast", 1, 0), ("zipnn default", 2, 0), ("zipnn max", 3, 0),
                                     ("zipnn default, target avx512", 2, 1)]:
            for t in (1, ncpu):
                rows.append((name, t, zipnn_row(lib, data, dtype, level, t, runs, target)))
        if dtype in REF_DTYPE:
            for t in (1, ncpu):
                try:
                    rows.append(("reference zipnn 0.5.4", t, ref_row(data, dtype, t, runs)))
                except ImportError:
                    print("| reference zipnn 0.5.4 | - | not installed | | |")
                    break
        for t in (1, ncpu):
            rows.append(("zstd -3 (plain bytes)", t, zstd_row(data, t, runs)))
        for name, t, (clen, tc, td) in rows:
            print(f"| {name} | {t} | {clen / len(data):.4f} | {mb / tc:.0f} | {mb / td:.0f} |")
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
