#!/usr/bin/env python3
"""Every way to compress a safetensors file, against one frame of the same bytes, in one run.

    benches/paths.sh [CORPUS_DIR] [FILE.safetensors ...]    # sets up a venv, then runs this

For each file it prints one markdown table with, at 1 and 2 threads:
- frame: one frame of the file's data section with its dtype (a file of several dtypes:
  one frame per dtype, the tensors of that dtype one after another), C one-shot calls;
- stream: the data section through the C streaming calls (8 MiB blocks), as the CLI
  compresses a plain file;
- archive: the whole file through `zipnn_safetensors_compress` and
  `zipnn_archive_open_memory` + `zipnn_archive_restore` into a caller's buffer;
- delta archive: for a fine-tune whose base is in the corpus (NAME-ft.X beside NAME.X),
  the same against the base;
- zipnn bench: the CLI's `bench` command on the file (an archive, and against the base for
  a fine-tune) and on its data section as a plain file with its dtype (a stream): the CLI's
  code paths in memory, timed by the command itself (wall time, best of the same runs);
- CLI process: `zipnn compress` / `zipnn decompress` of the same, files on a RAM disk (the
  whole process: reading and writing the files, which the other rows do not do);
- the reference package (0.5.4) and zstd -3 on the data section.
Speeds are MB/s of original bytes (MB = 10^6), best of ZIPNN_BENCH_RUNS runs (default 5),
with "/ frame" and "/ reference" the ratios to those rows at the same thread count, and
"2T / 1T" the decompression speed at two threads over one. Under each table, "targets"
lists the paths that miss: compress and decompress within 10% of one frame (but deltas,
which code other bytes, and whole CLI processes, which also read and write files), a delta archive decompressing at 2000 MB/s or more, two threads at least 1.8 times one thread for
decompression. Every row is checked to round trip.

With ZIPNN_BENCH_TARGET=avx512 every row of ours (C calls, zipnn bench, CLI processes)
compresses with target avx512 (codec 11 where it pays: frames laid out for AVX-512 VBMI2
readers; the default is any); the header line says which.

With ZIPNN_BENCH_CLOCK=cpu (for a machine shared with other work, where wall time is not
steady) the rows timed in this process take the run time of its busiest thread (each
thread's from /proc/self/task/*/schedstat): the CPU time of the one thread at 1 thread,
and at 2 threads what the call would take with a core for each thread (bandwidth shared
between cores is still counted, waiting for a core is not). CLI process rows then take the
CPU time of the process (all its threads: at 2 threads that understates the speed, so
their "2T / 1T" is not given and not checked), and zipnn bench rows are timed by the command
with the same clock (`zipnn bench --clock cpu`: its busiest thread's run time)."""

import ctypes
import json
import mmap
import os
import struct
import subprocess
import sys
import resource
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
from compare import DTYPES, REF_DTYPE, ROOT, Opts, load_lib, ref_row, zstd_row  # noqa: E402

CLOCK = os.environ.get("ZIPNN_BENCH_CLOCK", "wall")
TARGET = os.environ.get("ZIPNN_BENCH_TARGET", "any")
TARGETS = {"any": 0, "avx512": 1}
if TARGET not in TARGETS:
    sys.exit(f"ZIPNN_BENCH_TARGET: {TARGET!r} is not one of {', '.join(TARGETS)}")
_timer = [time.perf_counter]
_threads = [1]


def thread_times():
    """Run time in seconds of every thread of this process, by thread id, and the CPU time
    of the process (which keeps that of threads that have ended)."""
    times = {"process": time.process_time()}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                times[tid] = int(f.read().split()[0]) * 1e-9
        except (OSError, ValueError, IndexError):
            pass
    return times


def elapsed(a, b, threads=None):
    """Seconds between two readings of a timer: numbers, or thread_times() (the busiest
    thread's run time) of a call on `threads` threads (default: the row's)."""
    if isinstance(a, dict):
        # Threads that started and ended within the call (the reference package's, zstd's)
        # are not listed: their time is in the process's, spread over the threads asked for
        # (the most favourable split for them).
        busiest = max(t - a.get(tid, 0.0) for tid, t in b.items() if tid != "process")
        return max(busiest, (b["process"] - a["process"]) / (threads or _threads[0]))
    return b - a


def best(runs, fn):
    """The fastest of `runs` calls of `fn` by the current timer, and the last result."""
    t, out = float("inf"), None
    for _ in range(runs):
        t0 = _timer[0]()
        out = fn()
        t = min(t, elapsed(t0, _timer[0]()))
    return t, out


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

ST_DTYPES = {"BF16": "bf16", "F16": "fp16", "F32": "fp32", "F64": "fp64", "F8_E4M3": "fp8_e4m3",
             "F8_E5M2": "fp8_e5m2", "I8": "int8", "U8": "uint8"}
BLOCK = 8 << 20
sz = ctypes.c_size_t
vp = ctypes.c_void_p


def bind(lib):
    P = ctypes.POINTER
    h = P(vp)
    for name, args in [
        ("zipnn_compress_bound", [P(Opts), sz, P(sz)]),
        ("zipnn_safetensors_compress_bound", [P(Opts), vp, sz, P(sz)]),
        ("zipnn_safetensors_compress", [P(Opts), vp, sz, vp, sz, vp, sz, P(sz)]),
        ("zipnn_archive_open_memory", [vp, sz, P(Opts), h]),
        ("zipnn_archive_set_base_memory", [vp, vp, sz]),
        ("zipnn_archive_restore", [vp, vp, sz, P(sz)]),
        ("zipnn_cstream_new", [P(Opts), sz, h]),
        ("zipnn_cstream_compress", [vp, vp, sz, P(sz), vp, sz, P(sz)]),
        ("zipnn_cstream_finish", [vp, vp, sz, P(sz), P(ctypes.c_int)]),
        ("zipnn_dstream_new", [P(Opts), h]),
        ("zipnn_dstream_decompress", [vp, vp, sz, P(sz), vp, sz, P(sz)]),
        ("zipnn_dstream_finish", [vp]),
    ]:
        getattr(lib, name).argtypes = args
    lib.zipnn_archive_free.argtypes = [vp]
    lib.zipnn_cstream_free.argtypes = [vp]
    lib.zipnn_dstream_free.argtypes = [vp]


def opts(lib, dtype, threads):
    o = Opts()
    lib.zipnn_options_init(ctypes.byref(o))
    o.dtype, o.threads, o.target = DTYPES[dtype], threads, TARGETS[TARGET]
    return o


def ok(st, what):
    assert st == 0, f"{what}: status {st}"


def parse(path):
    """The file's bytes, its data section, and the data section grouped by dtype."""
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n:]
    groups = {}
    for t in sorted(header.values(), key=lambda t: t["data_offsets"]):
        b, e = t["data_offsets"]
        groups.setdefault(ST_DTYPES.get(t["dtype"], "raw"), []).append(body[b:e])
    return data, body, {d: b"".join(v) for d, v in groups.items()}


def hbuf(n, init=None):
    """A ctypes buffer of n bytes (a copy of `init` if given) in fresh memory advised to be
    huge pages, as the library and the CLI advise their own large buffers: every row gets
    the same kind of memory, so that no path is ahead of another by its page size."""
    mm = mmap.mmap(-1, max(n, 1))
    if n >= 1 << 22 and hasattr(mmap, "MADV_HUGEPAGE"):
        mm.madvise(mmap.MADV_HUGEPAGE)
    if init is not None:
        mm[:len(init)] = init
    return (ctypes.c_char * n).from_buffer(mm) if n else ctypes.create_string_buffer(0)


def frame_row(lib, groups, threads, runs):
    """One frame per dtype group; times are summed over the groups."""
    total_c = total_d = 0.0
    clen = 0
    for dtype, data in groups.items():
        o = opts(lib, dtype, threads)
        bound = sz()
        ok(lib.zipnn_compress_bound(ctypes.byref(o), len(data), ctypes.byref(bound)), "bound")
        cap = bound.value
        src, dst = hbuf(len(data), data), hbuf(cap)
        n = sz()
        tc, _ = best(runs, lambda: ok(lib.zipnn_compress(ctypes.byref(o), src, len(data), dst, cap,
                                                         ctypes.byref(n)), "compress"))
        frame = hbuf(n.value, dst.raw[:n.value])
        out = hbuf(len(data))
        m = sz()
        td, _ = best(runs, lambda: ok(lib.zipnn_decompress_with_options(
            ctypes.byref(o), frame, len(frame), out, len(data), ctypes.byref(m)), "decompress"))
        assert m.value == len(data) and out.raw == data, "frame round trip failed"
        total_c, total_d, clen = total_c + tc, total_d + td, clen + len(frame)
    return clen, total_c, total_d


def stream_row(lib, data, dtype, threads, runs):
    """The C streaming calls with buffers for the whole input and output, so that no time
    goes to Python between the calls."""
    o = opts(lib, dtype, threads)
    bound = sz()
    ok(lib.zipnn_compress_bound(ctypes.byref(o), len(data), ctypes.byref(bound)), "bound")
    cap = bound.value + (len(data) // BLOCK + 1) * 4096 + 4096
    out = hbuf(cap)
    obase = ctypes.addressof(out)
    src = hbuf(len(data), data)
    base = ctypes.addressof(src)

    def comp():
        cs = vp()
        ok(lib.zipnn_cstream_new(ctypes.byref(o), BLOCK, ctypes.byref(cs)), "cstream_new")
        c, w, done = sz(), sz(), ctypes.c_int(0)
        at = got = 0
        while at < len(data):
            ok(lib.zipnn_cstream_compress(cs, base + at, len(data) - at, ctypes.byref(c), obase + got,
                                          cap - got, ctypes.byref(w)), "cstream_compress")
            at, got = at + c.value, got + w.value
        while not done.value:
            ok(lib.zipnn_cstream_finish(cs, obase + got, cap - got, ctypes.byref(w), ctypes.byref(done)),
               "finish")
            got += w.value
        lib.zipnn_cstream_free(cs)
        return got

    tc, n = best(runs, comp)
    stream = out.raw[:n]
    back = hbuf(len(data))
    sbuf = hbuf(len(stream), stream)
    sbase, bbase = ctypes.addressof(sbuf), ctypes.addressof(back)

    def dec():
        ds = vp()
        ok(lib.zipnn_dstream_new(ctypes.byref(o), ctypes.byref(ds)), "dstream_new")
        c, w = sz(), sz()
        at = got = 0
        while True:
            ok(lib.zipnn_dstream_decompress(ds, sbase + at, len(stream) - at, ctypes.byref(c),
                                            bbase + got, len(data) - got, ctypes.byref(w)), "dstream")
            at, got = at + c.value, got + w.value
            if c.value == 0 and w.value == 0:
                break
        ok(lib.zipnn_dstream_finish(ds), "dstream_finish")
        lib.zipnn_dstream_free(ds)
        return got

    td, got = best(runs, dec)
    assert got == len(data) and back.raw == data, "stream round trip failed"
    return len(stream), tc, td


def archive_row(lib, data, base, threads, runs):
    o = opts(lib, "raw", threads)
    b, blen = (base, len(base)) if base is not None else (None, 0)
    cap = sz()
    ok(lib.zipnn_safetensors_compress_bound(ctypes.byref(o), data, len(data), ctypes.byref(cap)), "bound")
    src, dst = hbuf(len(data), data), hbuf(cap.value)
    if base is not None:
        b = hbuf(blen, base)
    n = sz()
    tc, _ = best(runs, lambda: ok(lib.zipnn_safetensors_compress(
        ctypes.byref(o), b, blen, src, len(data), dst, cap.value, ctypes.byref(n)), "archive compress"))
    ar = hbuf(n.value, dst.raw[:n.value])
    out = hbuf(len(data))
    m = sz()

    def dec():
        h = vp()
        ok(lib.zipnn_archive_open_memory(ar, len(ar), ctypes.byref(o), ctypes.byref(h)), "open")
        if b is not None:
            ok(lib.zipnn_archive_set_base_memory(h, b, blen), "set_base")
        ok(lib.zipnn_archive_restore(h, out, len(data), ctypes.byref(m)), "restore")
        lib.zipnn_archive_free(h)

    td, _ = best(runs, dec)
    assert m.value == len(data) and out.raw == data, "archive round trip failed"
    return len(ar), tc, td


def cli_row(zipnn, path, base, threads, runs, tmp, dtype=None):
    comp, back = os.path.join(tmp, "c.znn"), os.path.join(tmp, "d.out")
    b = ["--base", base] if base else []
    t = ["-t", dtype] if dtype is not None else []

    def run(args):
        subprocess.run([zipnn, args[0], "-q", "-T", str(threads), *args[1:]], check=True)

    saved = _timer[0]
    if saved is thread_times:
        _timer[0] = children_cpu
    try:
        tc, _ = best(runs, lambda: run(["compress", "-f", "--target", TARGET, *b, *t, "-o", comp, path]))
        td, _ = best(runs, lambda: run(["decompress", "-f", *b, "-o", back, comp]))
    finally:
        _timer[0] = saved
    with open(path, "rb") as f1, open(back, "rb") as f2:
        assert f1.read() == f2.read(), "CLI round trip failed"
    return os.path.getsize(comp), tc, td


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return os.uname().machine


def bench_row(zipnn, path, base, threads, runs, dtype=None):
    """`zipnn bench` on one file: (ratio, compress MB/s, decompress MB/s) as it prints them."""
    args = [zipnn, "bench", "-q", "-T", str(threads), "-n", str(runs), "--target", TARGET, path]
    args += ["--clock", "cpu"] if CLOCK == "cpu" else []
    args += ["--base", base] if base else []
    args += ["-t", dtype] if dtype else []
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout.splitlines()
    head = out[0].split()
    row = out[1].split()
    assert row[-3:] == ["round", "trip", "ok"], f"zipnn bench: {out[1]}"
    # The format column has spaces: count the numeric columns from the end.
    ratio, comp, dec = float(row[-6]), float(row[-5]), float(row[-4])
    assert head[-6:] == ["ratio", "comp", "MB/s", "dec", "MB/s", "check"], out[0]
    return ratio, comp, dec


def main(argv):
    corpus = os.environ.get("ZIPNN_CORPUS", os.path.join(ROOT, "corpus"))
    files = []
    for a in argv:
        if os.path.isdir(a):
            corpus = a
        else:
            files.append(a)
    if not files:
        files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus) if f.endswith(".safetensors"))
    lib = load_lib()
    bind(lib)
    zipnn = os.environ.get("ZIPNN_CLI", os.path.join(ROOT, "target", "release", "zipnn"))
    runs = int(os.environ.get("ZIPNN_BENCH_RUNS", "5"))
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    clock = ("busiest thread's run time; CLI processes: their CPU time"
             if CLOCK == "cpu" else "wall time")
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; target {TARGET}; best of {runs} runs ({clock}); "
          f"MB = 10^6 bytes; CLI output on {shm or 'the temporary directory'}\n")
    for path in files:
        data, body, groups = parse(path)
        name = os.path.basename(path)
        stem, _, rest = name.partition(".")
        base_path = os.path.join(os.path.dirname(path), stem[:-3] + "." + rest) if stem.endswith("-ft") else None
        base = open(base_path, "rb").read() if base_path and os.path.exists(base_path) else None
        main_dtype = max(groups, key=lambda d: len(groups[d]))
        kinds = ", ".join(f"{d} {len(g)}" for d, g in groups.items())
        print(f"### {name} ({len(data)} bytes: {kinds})\n")
        results = {}
        with tempfile.TemporaryDirectory(dir=shm) as tmp:
            plain = os.path.join(tmp, "data.raw")
            with open(plain, "wb") as f:
                f.write(body)
            for t in (1, 2):
                _timer[0] = thread_times if CLOCK == "cpu" else time.perf_counter
                _threads[0] = t
                compare.best = best
                rows = [("frame" if len(groups) == 1 else "frames (one per dtype)",
                         frame_row(lib, groups, t, runs), len(body))]
                rows.append((f"stream ({main_dtype})", stream_row(lib, body, main_dtype, t, runs), len(body)))
                rows.append(("archive", archive_row(lib, data, None, t, runs), len(data)))
                if base is not None:
                    rows.append(("delta archive", archive_row(lib, data, base, t, runs), len(data)))
                benches = [("zipnn bench (archive)", bench_row(zipnn, path, None, t, runs))]
                if base is not None:
                    benches.append(("zipnn bench (delta archive)", bench_row(zipnn, path, base_path, t, runs)))
                if len(groups) == 1 and main_dtype in DTYPES:
                    benches.append((f"zipnn bench (plain file, {main_dtype} stream)",
                                    bench_row(zipnn, plain, None, t, runs, main_dtype)))
                rows.append(("CLI process (archive)", cli_row(zipnn, path, None, t, runs, tmp), len(data)))
                if base is not None:
                    rows.append(("CLI process (delta archive)", cli_row(zipnn, path, base_path, t, runs, tmp),
                                 len(data)))
                if len(groups) == 1 and main_dtype in DTYPES:
                    rows.append((f"CLI process (plain file, {main_dtype} stream)",
                                 cli_row(zipnn, plain, None, t, runs, tmp, main_dtype), len(body)))
                if len(groups) == 1 and main_dtype in REF_DTYPE:
                    try:
                        rows.append(("reference zipnn 0.5.4", ref_row(body, main_dtype, t, runs), len(body)))
                    except ImportError:
                        pass
                rows.append(("zstd -3", zstd_row(body, t, runs), len(body)))
                for label, (clen, tc, td), n in rows:
                    results[label, t] = (clen / n, n / 1e6 / tc, n / 1e6 / td)
                for label, r in benches:
                    results[label, t] = r
        if base is not None:
            print(f"delta archives against {os.path.basename(base_path)}\n")
        print("| path | threads | ratio | compress MB/s | decompress MB/s | / frame (comp, dec) "
              "| / reference (comp, dec) | 2T / 1T (dec) |")
        print("|---|---|---|---|---|---|---|---|")
        frame = next(label for label, _ in results if label.startswith("frame"))
        ref = "reference zipnn 0.5.4"
        misses = []
        for t in (1, 2):
            _, fc, fd = results[frame, t]
            for (label, tt), (r, c, d) in results.items():
                if tt != t:
                    continue
                rel = f"{c / fc:.2f}, {d / fd:.2f}"
                vs = f"{c / results[ref, t][1]:.2f}, {d / results[ref, t][2]:.2f}" if (ref, t) in results else "-"
                # A CLI process's CPU time sums its threads': with the cpu clock, its two
                # threads cannot show a speed-up, so none is given or checked.
                no_scale = CLOCK == "cpu" and label.startswith("CLI process")
                scale = "-" if t == 2 and no_scale else f"{d / results[label, 1][2]:.2f}" if t == 2 else ""
                print(f"| {label} | {t} | {r:.4f} | {c:.0f} | {d:.0f} | {rel} | {vs} | {scale} |")
                ours = label not in (ref, "zstd -3")
                if (ours and label != frame and "delta" not in label and not label.startswith("CLI process")
                        and (c < 0.9 * fc or d < 0.9 * fd)):
                    misses.append(f"{label} at {t} thread(s) is {c / fc:.2f}, {d / fd:.2f} of one frame")
                if ours and label.endswith("delta archive") and d < 2000:
                    misses.append(f"{label} at {t} thread(s) decompresses at {d:.0f} MB/s")
                if ours and t == 2 and not no_scale and d < 1.8 * results[label, 1][2]:
                    misses.append(f"{label}: two threads decompress {d / results[label, 1][2]:.2f} times one")
        print("\ntargets: " + ("all met" if not misses else "missed: " + "; ".join(misses)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
