#!/usr/bin/env python3
"""Ratios on every file of the corpus, in one run: zipnn's default and max levels (through
the C ABI), the reference package (PyPI `zipnn` 0.5.4, where it supports the dtype), zstd -3
and zstd -19 on the plain bytes, and the per-chunk order-0 bound; each row checked against
the targets.

    benches/corpus.sh [CORPUS_DIR] [--old LIB] [--speed FILE ...]

Every `NAME.DTYPE.raw` file of the corpus is read with the dtype its name gives (bf16, f16,
f32, f64, e4m3, e5m2, i8, u8; other integer types, such as i64, as raw bytes grouped by
element size). Ratios are compressed / original (lower is better) and deterministic; every
zipnn, reference and zstd result is checked to round trip.

Targets (docs/LAYOUTS.md, issue "choices that hold on every model"):
- default: at or below the reference (where it supports the dtype) and zstd -3;
- max: at or below the reference, zstd -19 and the order-0 bound + 0.1 pp.

The bound is the per-chunk order-0 entropy of the planes: the sum over 256 KiB chunks and
planes of each plane-chunk's order-0 entropy, with the best of the dtype's layouts chosen
per chunk (docs/FORMAT.md section 6), as a fraction of the input.

`--old LIB` adds the ratios of another build of the library (for example the one before a
change). `--speed FILE ...` measures compress and decompress speed of the default level of
this build and of `--old` on those files instead, one thread, interleaved (old, new, old,
new, ...; best of ZIPNN_BENCH_RUNS rounds), so that both see the same machine state.

zstd and reference results are slow (zstd -19 above all) and depend only on the file, so
they are cached in ZIPNN_BENCH_CACHE (default target/corpus-cache.json), keyed by the file's
name, size and modification time."""
import ctypes
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from compare import DTYPES, REF_DTYPE, Opts  # noqa: E402

CHUNK = 256 * 1024
# File-name dtype -> (zipnn dtype, element size).
NAME_DTYPES = {
    "bf16": ("bf16", 2), "f16": ("fp16", 2), "f32": ("fp32", 4), "f64": ("fp64", 8),
    "e4m3": ("fp8_e4m3", 1), "e5m2": ("fp8_e5m2", 1), "i8": ("int8", 1), "u8": ("uint8", 1),
    "bool": ("raw", 1), "i16": ("raw", 2), "u16": ("raw", 2), "i32": ("raw", 4), "u32": ("raw", 4),
    "i64": ("raw", 8), "u64": ("raw", 8),
}


def load(path):
    lib = ctypes.CDLL(path)
    sz = ctypes.c_size_t
    lib.zipnn_options_init.argtypes = [ctypes.POINTER(Opts)]
    # zipnn_compress_bound(opts, size, &bound) -> status; builds before it had
    # zipnn_decompress_alloc_size returned the bound: zipnn_compress_bound(size, opts).
    lib.new_bound = hasattr(lib, "zipnn_decompress_alloc_size")
    if lib.new_bound:
        lib.zipnn_compress_bound.argtypes = [ctypes.POINTER(Opts), sz, ctypes.POINTER(sz)]
    else:
        lib.zipnn_compress_bound.argtypes = [sz, ctypes.POINTER(Opts)]
        lib.zipnn_compress_bound.restype = sz
    lib.zipnn_compress.argtypes = [ctypes.POINTER(Opts), ctypes.c_void_p, sz, ctypes.c_void_p, sz,
                                   ctypes.POINTER(sz)]
    lib.zipnn_decompress_with_options.argtypes = [ctypes.POINTER(Opts), ctypes.c_void_p, sz, ctypes.c_void_p, sz,
                                                  ctypes.POINTER(sz)]
    return lib


class Zipnn:
    """One build of the library, with preallocated buffers for one input."""

    def __init__(self, lib, data, dtype, esize, level, threads=1):
        self.lib, self.data = lib, data
        o = Opts()
        lib.zipnn_options_init(ctypes.byref(o))
        o.dtype, o.level, o.threads = DTYPES[dtype], level, threads
        if dtype == "raw":
            o.bg_partitions = esize
        self.o = o
        if lib.new_bound:
            bound = ctypes.c_size_t()
            assert lib.zipnn_compress_bound(ctypes.byref(o), len(data), ctypes.byref(bound)) == 0
            self.cap = bound.value
        else:
            self.cap = lib.zipnn_compress_bound(len(data), ctypes.byref(o))
        self.dst = ctypes.create_string_buffer(self.cap)
        self.out = ctypes.create_string_buffer(len(data))
        self.clen = 0

    def compress(self):
        n = ctypes.c_size_t()
        s = self.lib.zipnn_compress(ctypes.byref(self.o), self.data, len(self.data), self.dst, self.cap,
                                    ctypes.byref(n))
        assert s == 0, s
        self.clen = n.value
        return n.value

    def decompress(self):
        m = ctypes.c_size_t()
        s = self.lib.zipnn_decompress_with_options(ctypes.byref(self.o), self.dst, self.clen, self.out,
                                                   len(self.data), ctypes.byref(m))
        assert s == 0 and m.value == len(self.data), s

    def ratio(self):
        n = self.compress()
        self.decompress()
        assert self.out.raw == self.data, "zipnn round trip failed"
        return n / len(self.data)


def entropy(plane, chunk_elems):
    """Order-0 entropy in bytes of each chunk of `plane` (a uint8 array)."""
    out = []
    for i in range(0, len(plane), chunk_elems):
        c = np.bincount(plane[i:i + chunk_elems], minlength=256)
        c = c[c > 0]
        out.append(float(-(c * np.log2(c / c.sum())).sum() / 8))
    return np.array(out)


def layouts(data, dtype, esize):
    """The planes of each layout the format offers for `dtype` (docs/FORMAT.md section 6)."""
    b = np.frombuffer(data, dtype=np.uint8)
    u8 = lambda x: np.asarray(x).astype(np.uint8)
    n = len(b) // esize * esize
    if dtype in ("bf16", "fp16"):
        v = b[:n].view(np.uint16).astype(np.uint32)
        if dtype == "bf16":
            return [[u8(v >> 7), u8(((v >> 8) & 0x80) | (v & 0x7F))], [u8(v >> 8), u8(v)]]
        r = ((v << 1) | (v >> 15)) & 0xFFFF
        return [[u8(r >> 8), u8(r)], [u8(v >> 8), u8(v)]]
    if dtype == "fp32":
        v = b[:n].view(np.uint32)
        return [[u8(v >> 23), u8(((v >> 24) & 0x80) | ((v >> 16) & 0x7F)), u8(v >> 8), u8(v)],
                [u8(v >> 24), u8(v >> 16), u8(v >> 8), u8(v)]]
    g = b[:n].reshape(-1, esize)
    return [[np.ascontiguousarray(g[:, k]) for k in range(esize - 1, -1, -1)]]


def bound(data, dtype, esize):
    """Per-chunk order-0 bound: the best layout per chunk."""
    ce = CHUNK // esize
    per_layout = [sum(entropy(p, ce) for p in planes) for planes in layouts(data, dtype, esize)]
    return float(np.minimum.reduce(per_layout).sum()) / len(data)


def zstd_ratio(data, level):
    import zstandard
    c = zstandard.ZstdCompressor(level=level).compress(data)
    assert zstandard.ZstdDecompressor().decompress(c, max_output_size=len(data)) == data
    return len(c) / len(data)


def ref_ratio(data, dtype):
    from zipnn import ZipNN  # the reference package
    z = ZipNN(input_format="byte", bytearray_dtype=REF_DTYPE[dtype], threads=1)
    c = bytes(z.compress(bytearray(data)))
    assert bytes(z.decompress(bytearray(c))) == data, "reference round trip failed"
    return len(c) / len(data)


def corpus_files(corpus):
    for f in sorted(os.listdir(corpus)):
        parts = f.split(".")
        if len(parts) >= 3 and parts[-1] == "raw" and parts[-2] in NAME_DTYPES:
            yield os.path.join(corpus, f), *NAME_DTYPES[parts[-2]]


class Cache:
    def __init__(self, path):
        self.path = path
        try:
            with open(path) as f:
                self.d = json.load(f)
        except (OSError, ValueError):
            self.d = {}

    def get(self, path, what, fn):
        st = os.stat(path)
        key = f"{os.path.basename(path)}:{st.st_size}:{int(st.st_mtime)}:{what}"
        if key not in self.d:
            self.d[key] = fn()
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            with open(self.path, "w") as f:
                json.dump(self.d, f, indent=1, sort_keys=True)
        return self.d[key]


def pct(x):
    return f"{100 * x:.2f}"


def ratios(corpus, new, old, cache):
    cols = ["file", "dtype", "MB", "default", "max"]
    if old:
        cols += ["old default", "old max"]
    cols += ["reference", "zstd -3", "zstd -19", "bound", "targets"]
    print("ratios in % of the original size (lower is better)\n")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    misses = 0
    for path, dtype, esize in corpus_files(corpus):
        data = open(path, "rb").read()
        row = [os.path.basename(path), dtype, f"{len(data) / 1e6:.1f}"]
        d = Zipnn(new, data, dtype, esize, 2).ratio()
        m = Zipnn(new, data, dtype, esize, 3).ratio()
        row += [pct(d), pct(m)]
        if old:
            row += [pct(Zipnn(old, data, dtype, esize, lvl).ratio()) for lvl in (2, 3)]
        ref = None
        if dtype in REF_DTYPE:
            try:
                ref = cache.get(path, "reference-0.5.4", lambda: ref_ratio(data, dtype))
            except ImportError:
                pass
        z3 = cache.get(path, "zstd-3", lambda: zstd_ratio(data, 3))
        z19 = cache.get(path, "zstd-19", lambda: zstd_ratio(data, 19))
        b = cache.get(path, "bound-best-layout", lambda: bound(data, dtype, esize))
        miss = []
        if d > z3 or (ref is not None and d > ref):
            miss.append("default")
        if m > min(z19, b + 0.001, ref if ref is not None else 1e9):
            miss.append("max")
        misses += bool(miss)
        row += ["-" if ref is None else pct(ref), pct(z3), pct(z19), pct(b), "miss: " + ", ".join(miss) if miss
                else "met"]
        print("| " + " | ".join(row) + " |", flush=True)
    print(f"\n{misses} file(s) miss a target")


def speed(files, new, old, runs):
    print(f"default level, one thread, best of {runs} interleaved rounds; MB/s (MB = 10^6 bytes)\n")
    print("| file | old compress | new compress | ratio | old decompress | new decompress | ratio |")
    print("|---|---|---|---|---|---|---|")
    for path in files:
        dtype, esize = NAME_DTYPES[os.path.basename(path).split(".")[-2]]
        data = open(path, "rb").read()
        z = {k: Zipnn(lib, data, dtype, esize, 2, threads=1) for k, lib in (("old", old), ("new", new))}
        best = {(k, op): float("inf") for k in z for op in ("c", "d")}
        for _ in range(runs):
            for k in ("old", "new"):
                t = time.perf_counter()
                z[k].compress()
                best[(k, "c")] = min(best[(k, "c")], time.perf_counter() - t)
                t = time.perf_counter()
                z[k].decompress()
                best[(k, "d")] = min(best[(k, "d")], time.perf_counter() - t)
        for k in z:
            assert z[k].out.raw == data, f"{k} round trip failed"
        mb = len(data) / 1e6
        s = {key: mb / t for key, t in best.items()}
        print(f"| {os.path.basename(path)} | {s[('old', 'c')]:.0f} | {s[('new', 'c')]:.0f} | "
              f"{s[('new', 'c')] / s[('old', 'c')]:.3f} | {s[('old', 'd')]:.0f} | {s[('new', 'd')]:.0f} | "
              f"{s[('new', 'd')] / s[('old', 'd')]:.3f} |", flush=True)


def main(argv):
    corpus = os.environ.get("ZIPNN_CORPUS", os.path.join(ROOT, "corpus"))
    old_path, speed_files = None, None
    it = iter(argv)
    for a in it:
        if a == "--old":
            old_path = next(it)
        elif a == "--speed":
            speed_files = list(it)
        else:
            corpus = a
    new = load(os.environ.get("ZIPNN_LIBRARY_PATH", os.path.join(ROOT, "target", "release", "libzipnn.so")))
    old = load(old_path) if old_path else None
    print(f"machine: {os.uname().machine}, {os.cpu_count()} cores; corpus {corpus}\n")
    if speed_files is not None:
        if old is None:
            sys.exit("--speed needs --old LIB")
        speed([f if os.path.exists(f) else os.path.join(corpus, f) for f in speed_files], new, old,
              int(os.environ.get("ZIPNN_BENCH_RUNS", "7")))
        return
    cache = Cache(os.environ.get("ZIPNN_BENCH_CACHE", os.path.join(ROOT, "target", "corpus-cache.json")))
    ratios(corpus, new, old, cache)


if __name__ == "__main__":
    main(sys.argv[1:])
