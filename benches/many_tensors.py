#!/usr/bin/env python3
"""Archives of many small tensors through the C ABI: every step should take about the time
of plain compression, whatever the tensor count (lookups by name and base matching are
hash maps; they used to be linear scans, so 100 000 tensors took minutes).

    python3 benches/many_tensors.py [COUNT]         # default 100000

Prints the CPU seconds of: plain archive compression, compression against a base (every
tensor a delta), opening the archive and finding every tensor by name, and restoring it
with the base. ZIPNN_LIBRARY_PATH picks the library (default target/release/libzipnn.so).
Every result is checked."""
import ctypes
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import Opts, load_lib  # noqa: E402
from paths import bind, ok  # noqa: E402

sz = ctypes.c_size_t


def build(count, salt):
    """A safetensors file of `count` BF16 tensors of 4 elements each."""
    header, data = {}, bytearray()
    for i in range(count):
        header[f"layer.{i}.w"] = {"dtype": "BF16", "shape": [4], "data_offsets": [len(data), len(data) + 8]}
        data += struct.pack("<4H", *[(0x3C00 + i * 7 + k + salt) & 0xFFFF for k in range(4)])
    j = json.dumps(header, separators=(",", ":")).encode()
    j += b" " * (-len(j) % 8)
    return struct.pack("<Q", len(j)) + j + bytes(data)


def timed(fn):
    # CPU time of this process (one thread does the work): steady on a shared machine.
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def main(argv):
    count = int(argv[0]) if argv else 100_000
    lib = load_lib()
    bind(lib)
    lib.zipnn_archive_find.argtypes = [ctypes.c_void_p, ctypes.c_char_p, sz, ctypes.POINTER(sz)]
    base, fine = build(count, 0), build(count, 1)
    o = Opts()
    lib.zipnn_options_init(ctypes.byref(o))
    o.threads = 1
    cap = sz()
    ok(lib.zipnn_safetensors_compress_bound(ctypes.byref(o), fine, len(fine), ctypes.byref(cap)), "bound")
    dst = ctypes.create_string_buffer(cap.value)
    n = sz()

    def compress(b):
        ok(lib.zipnn_safetensors_compress(ctypes.byref(o), b, len(b) if b else 0, fine, len(fine), dst, cap.value,
                                          ctypes.byref(n)), "compress")
        return dst.raw[:n.value]

    t_plain, _ = timed(lambda: compress(None))
    t_delta, ar = timed(lambda: compress(base))
    names = [f"layer.{i}.w".encode() for i in range(count)]

    def open_find():
        h = ctypes.c_void_p()
        ok(lib.zipnn_archive_open_memory(ar, len(ar), ctypes.byref(o), ctypes.byref(h)), "open")
        idx = sz()
        for i, name in enumerate(names):
            ok(lib.zipnn_archive_find(h, name, len(name), ctypes.byref(idx)), "find")
            assert idx.value == i
        return h

    t_find, h = timed(open_find)
    out = ctypes.create_string_buffer(len(fine))
    m = sz()

    def restore():
        ok(lib.zipnn_archive_set_base_memory(h, base, len(base)), "set_base")
        ok(lib.zipnn_archive_restore(h, out, len(fine), ctypes.byref(m)), "restore")

    t_restore, _ = timed(restore)
    assert out.raw[:m.value] == fine, "restore differs"
    lib.zipnn_archive_free(h)
    print(f"{count} tensors ({len(fine)} bytes), one thread, CPU seconds:")
    print(f"  compress                      {t_plain:8.3f}")
    print(f"  compress against a base       {t_delta:8.3f}")
    print(f"  open + find every name        {t_find:8.3f}")
    print(f"  set base + restore            {t_restore:8.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
