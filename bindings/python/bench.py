"""Benchmark: the Python SDK against the native C calls on a 64 MiB bf16-like buffer.

    python bindings/python/bench.py [--mib 64] [--repeat 7] [--threads 0]

Three measurements per direction, best of ``--repeat`` runs each:

* native: the C functions called through ctypes directly, with the options struct, the
  output buffer and the out-size variable preallocated and reused (no Python-side work
  but the call itself);
* SDK *_into: ``zipnn.compress_into`` / ``zipnn.decompress_into`` into the same kind of
  preallocated buffer (the SDK's own overhead: option building, buffer checks);
* SDK: ``zipnn.compress`` / ``zipnn.decompress`` returning new ``bytes`` (adds the cost of
  fresh output memory, which every allocating API pays; a C caller that mallocs per call
  pays it too: see the "native+malloc" line, a ctypes call into a freshly allocated buffer).

The line printed last compares SDK vs native with the percentage difference.
"""

import argparse
import ctypes
import os
import sys
import time

# Use the installed package (with its bundled library), not the source tree beside this file.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import numpy as np

import zipnn
from zipnn import _api, _ffi
from zipnn._lib import lib


def bf16_like(nbytes: int) -> bytes:
    rng = np.random.default_rng(0)
    f = (rng.standard_normal(nbytes // 2, dtype=np.float32) * 0.02).view(np.uint32)
    return (f >> 16).astype(np.uint16).tobytes()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    data = bf16_like(args.mib << 20)
    n = len(data)
    L = lib()
    opts = _api.make_options(dtype_code=_ffi.ZIPNN_DTYPE_BF16, threads=args.threads)
    bound = _api.compress_bound(n, dtype="bf16", threads=args.threads)
    cbuf = (ctypes.c_char * bound)()
    dbuf = (ctypes.c_char * n)()
    w = ctypes.c_size_t()
    frame = zipnn.compress(data, dtype="bf16", threads=args.threads)
    flen = len(frame)

    def native_c():
        st = L.zipnn_compress(ctypes.byref(opts), data, n, cbuf, bound, ctypes.byref(w))
        assert st == 0

    def native_d():
        # Same thread count as the SDK calls (plain zipnn_decompress would use all cores).
        st = L.zipnn_decompress_with_options(ctypes.byref(opts), frame, flen, dbuf, n, ctypes.byref(w))
        assert st == 0

    cdst, ddst = bytearray(bound), bytearray(n)
    variants = {
        "compress/ctypes native": native_c,
        "compress/SDK compress_into": lambda: zipnn.compress_into(cdst, data, dtype="bf16", threads=args.threads),
        "compress/SDK compress": lambda: zipnn.compress(data, dtype="bf16", threads=args.threads),
        "decompress/ctypes native": native_d,
        "decompress/SDK decompress_into": lambda: zipnn.decompress_into(ddst, frame, threads=args.threads),
        "decompress/SDK decompress": lambda: zipnn.decompress(frame, threads=args.threads),
    }
    t = {k: float("inf") for k in variants}
    for fn in variants.values():
        fn()  # warm up
    for _ in range(args.repeat):  # interleaved, so that load changes hit every variant alike
        for k, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            t[k] = min(t[k], time.perf_counter() - t0)
    t.update(c_native(data, args))
    print(f"zipnn {zipnn.library_version()}, {n / 2**20:.0f} MiB bf16-like, ratio {flen / n:.4f}, "
          f"threads={args.threads or 'all'}, best of {args.repeat}")
    for k in sorted(t):
        print(f"  {k:34s} {t[k] * 1e3:8.2f} ms  {n / t[k] / 1e9:6.2f} GB/s")

    def cmp(a, b):
        return f"{t[a] * 1e3:.1f} ms vs {t[b] * 1e3:.1f} ms ({(t[a] / t[b] - 1) * 100:+.1f}%)"

    lines = [f"compress_into vs ctypes native {cmp('compress/SDK compress_into', 'compress/ctypes native')}",
             f"decompress_into vs ctypes native {cmp('decompress/SDK decompress_into', 'decompress/ctypes native')}"]
    if "compress/C malloc" in t:
        lines += [f"compress vs C malloc+call {cmp('compress/SDK compress', 'compress/C malloc')}",
                  f"decompress vs C malloc+call {cmp('decompress/SDK decompress', 'decompress/C malloc')}",
                  f"compress_into vs C {cmp('compress/SDK compress_into', 'compress/C prealloc')}",
                  f"decompress_into vs C {cmp('decompress/SDK decompress_into', 'decompress/C prealloc')}"]
    print("summary: " + "; ".join(lines))


def c_native(data: bytes, args) -> dict:
    """Times the C program bench_native.c (compiled here with cc); {} if no compiler."""
    import shutil
    import subprocess
    import tempfile

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    libpath = zipnn.library_path()
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None or not os.path.isfile(os.path.join(root, "include", "zipnn.h")):
        print("  (no C compiler or include/zipnn.h: C timing skipped)")
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "bench_native")
        subprocess.run([cc, "-O2", "-o", exe, os.path.join(here, "bench_native.c"),
                        "-I", os.path.join(root, "include"), libpath,
                        "-Wl,-rpath," + os.path.dirname(libpath)], check=True)
        inp = os.path.join(tmp, "input.bin")
        with open(inp, "wb") as f:
            f.write(data)
        out = subprocess.run([exe, inp, str(args.repeat), str(args.threads)], check=True,
                             capture_output=True, text=True).stdout
    names = {"compress": "compress/C prealloc", "compress_malloc": "compress/C malloc",
             "decompress": "decompress/C prealloc", "decompress_malloc": "decompress/C malloc"}
    return {names[k]: float(v) for k, v in (line.split() for line in out.splitlines())}


if __name__ == "__main__":
    main()
