#!/usr/bin/env python3
"""The one-core speed targets against the reference package, measured in one process with
the two libraries taking turns, so that both see the same machine from one moment to the
next (on a shared VM, compare.py's rows, run one after another, drift by up to 30%).

    benches/compare.sh --targets [CORPUS_DIR] [FILE:DTYPE ...]   # sets up a venv, runs this

For each file (default: MiniLM bf16, fp16 and fp32 from the shared corpus) every round
times, one after the other: the reference's compress and decompress (PyPI `zipnn` 0.5.4,
one thread), ours at the default level (target any, and target avx512), ours at level max,
and our default level's decompression at two threads. The best of ZIPNN_BENCH_RUNS rounds
(default 9) of each is kept, by the run time of the busiest thread of this process (CPU
time: a call on one thread is timed by that thread's time; two threads by the busier one,
what the call takes with a core for each). Every output is checked to round trip.

It prints one table per file and the targets, which are stated for MiniLM (ours over the
reference, same run):
compress >= 5 and decompress >= 4.5 for bf16; decompress >= 4 for fp16 and fp32; two
threads >= 1.8 times one thread decompressing; level max decompressing bf16 at
>= 2500 MB/s. MB = 10^6 bytes."""
import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import DTYPES, REF_DTYPE, Opts, files_of, load_lib  # noqa: E402
from paths import cpu_name, elapsed, thread_times  # noqa: E402

LEVEL_DEFAULT, LEVEL_MAX = 2, 3
TARGET_ANY, TARGET_AVX512 = 0, 1


class Ours:
    """Compress and decompress calls of this library through its C ABI, into buffers made
    once (the reference's calls allocate their outputs; ours write into reused ones, as a
    caller that decodes again and again would)."""

    def __init__(self, lib, data, dtype, level, target, threads):
        self.lib, self.data = lib, data
        self.o = Opts()
        lib.zipnn_options_init(ctypes.byref(self.o))
        o = self.o
        o.dtype, o.level, o.target, o.threads = DTYPES[dtype], level, target, threads
        bound = ctypes.c_size_t()
        if lib.zipnn_compress_bound(ctypes.byref(o), len(data), ctypes.byref(bound)) != 0:
            raise RuntimeError("zipnn_compress_bound failed")
        self.cap = bound.value
        self.dst = ctypes.create_string_buffer(self.cap)
        self.out = ctypes.create_string_buffer(len(data))
        self.n, self.m = ctypes.c_size_t(), ctypes.c_size_t()
        self.compress()
        self.frame = self.dst.raw[:self.n.value]
        self.decompress()
        if self.m.value != len(data) or self.out.raw != data:
            raise AssertionError("zipnn round trip failed")

    def compress(self):
        s = self.lib.zipnn_compress(ctypes.byref(self.o), self.data, len(self.data), self.dst,
                                    self.cap, ctypes.byref(self.n))
        assert s == 0, s

    def decompress(self):
        s = self.lib.zipnn_decompress_with_options(ctypes.byref(self.o), self.frame, len(self.frame),
                                                   self.out, len(self.data), ctypes.byref(self.m))
        assert s == 0, s


class Reference:
    """The reference package on one thread. Its compress writes into the buffer it is given:
    each call gets a fresh copy, made before the clock starts."""

    def __init__(self, data, dtype):
        from zipnn import ZipNN
        self.z = ZipNN(input_format="byte", bytearray_dtype=REF_DTYPE[dtype], threads=1)
        self.data = data
        self.frame = bytes(self.z.compress(bytearray(data)))
        self.cb = bytearray(self.frame)
        if bytes(self.z.decompress(self.cb)) != data:
            raise AssertionError("reference round trip failed")
        self.copy = None

    def prepare(self):
        self.copy = bytearray(self.data)

    def compress(self):
        self.z.compress(self.copy)

    def decompress(self):
        self.z.decompress(self.cb)


def timed(fn, threads=1):
    """Seconds one call of `fn` on `threads` threads took: its busiest thread's run time."""
    a = thread_times()
    fn()
    return elapsed(a, thread_times(), threads)


def main(argv):
    files = files_of(argv)
    runs = int(os.environ.get("ZIPNN_BENCH_RUNS", "9"))
    lib = load_lib()
    print(f"processor: {cpu_name()}; {os.cpu_count()} cores; best of {runs} interleaved rounds, "
          "busiest thread's run time; MB = 10^6 bytes\n")
    verdicts = []
    for path, dtype in files:
        if dtype not in REF_DTYPE:
            sys.exit(f"{path}: the reference takes bf16, fp16 or fp32, not {dtype}")
        data = open(path, "rb").read()
        mb = len(data) / 1e6
        ref = Reference(data, dtype)
        ours = {
            "default": Ours(lib, data, dtype, LEVEL_DEFAULT, TARGET_ANY, 1),
            "default, target avx512": Ours(lib, data, dtype, LEVEL_DEFAULT, TARGET_AVX512, 1),
            "max": Ours(lib, data, dtype, LEVEL_MAX, TARGET_ANY, 1),
        }
        two = Ours(lib, data, dtype, LEVEL_DEFAULT, TARGET_ANY, 2)
        best = {}

        def keep(key, t):
            best[key] = min(best.get(key, float("inf")), t)

        for r in range(runs):
            ref.prepare()
            keep(("reference", "c"), timed(ref.compress))
            keep(("reference", "d"), timed(ref.decompress))
            for name, o in ours.items():
                # Level max compresses some 20 times slower: timed in one round of three.
                if name != "max" or ("max", "c") not in best or r % 3 == 0:
                    keep((name, "c"), timed(o.compress))
                keep((name, "d"), timed(o.decompress))
            keep(("default, 2 threads", "d"), timed(two.decompress, 2))
        for o in list(ours.values()) + [two]:
            o.decompress()
            assert o.out.raw == data, "zipnn round trip failed"

        rc, rd = mb / best[("reference", "c")], mb / best[("reference", "d")]
        print(f"### {os.path.basename(path)} ({dtype}, {len(data)} bytes)\n")
        print("| codec | ratio | compress MB/s | / reference | decompress MB/s | / reference |")
        print("|---|---|---|---|---|---|")
        print(f"| reference 0.5.4, 1 thread | {len(ref.frame) / len(data):.4f} | {rc:.0f} | 1.00 | {rd:.0f} | 1.00 |")
        for name, o in ours.items():
            c, d = mb / best[(name, "c")], mb / best[(name, "d")]
            print(f"| zipnn {name}, 1 thread | {len(o.frame) / len(data):.4f} | {c:.0f} | {c / rc:.2f} "
                  f"| {d:.0f} | {d / rd:.2f} |")
        d2 = mb / best[("default, 2 threads", "d")]
        print(f"| zipnn default, 2 threads | {len(two.frame) / len(data):.4f} | | | {d2:.0f} | {d2 / rd:.2f} |")
        print()

        d1 = mb / best[("default", "d")]
        c1 = mb / best[("default", "c")]
        checks = []
        if dtype == "bf16":
            checks.append(("compress >= 5x reference", c1 / rc, 5.0))
            checks.append(("decompress >= 4.5x reference", d1 / rd, 4.5))
            checks.append(("level max decompress >= 2500 MB/s", mb / best[("max", "d")], 2500))
        else:
            checks.append(("decompress >= 4x reference", d1 / rd, 4.0))
        checks.append(("2 threads >= 1.8x 1 thread, decompress", d2 / d1, 1.8))
        for what, got, need in checks:
            avx = ""
            if "reference" in what and "decompress" in what:
                avx = f" (target avx512: {mb / best[('default, target avx512', 'd')] / rd:.2f})"
            fmt = f"{got:.0f}" if need > 100 else f"{got:.2f}"
            verdicts.append(f"{os.path.basename(path)}: {what}: {fmt}{avx} -> "
                            f"{'met' if got >= need else 'MISSED'}")
    print("Targets (default level, target any, one core unless stated):")
    for v in verdicts:
        print(f"- {v}")


if __name__ == "__main__":
    main(sys.argv[1:])
