#!/usr/bin/env python3
"""Measures candidate bit layouts per dtype on real weights: the per-chunk order-0 entropy of
the planes each layout produces, as a fraction of the input (lower is better; Huffman lands
within about 0.5 pp of it). The results and the choices are in docs/LAYOUTS.md.

    python3 benches/layouts.py CORPUS_DIR           # CORPUS_DIR from ../shared/corpus/fetch.sh
    python3 benches/layouts.py --corpus CORPUS_DIR  # both layouts on every bf16/fp16/fp32 file
Needs numpy and ml_dtypes. The order-0 bounds leave out the planes a layout does not change
(fp32's last two), which are the same under both.""" 
import sys
import numpy as np
import ml_dtypes

CHUNK = 256 * 1024


def entropy_bytes(plane, chunk_elems):
    total = 0.0
    for i in range(0, len(plane), chunk_elems):
        c = np.bincount(plane[i:i + chunk_elems], minlength=256)
        c = c[c > 0]
        n = c.sum()
        total += -(c * np.log2(c / n)).sum() / 8
    return total


def report(name, planes, nbytes, esize):
    ce = CHUNK // esize
    per = [entropy_bytes(p, ce) for p in planes]
    print(f"| {name} | {sum(per) / nbytes:.4f} | " + " ".join(f"{x / len(p):.3f}" for x, p in zip(per, planes)) + " |")


def u8(x):
    return np.asarray(x).astype(np.uint8)


def main(d):
    print("| layout | order-0 bound (fraction of input) | per plane |\n|---|---|---|")
    f32 = np.fromfile(f"{d}/minilm.f32.raw", dtype=np.uint32)
    bf = np.fromfile(f"{d}/minilm.bf16.raw", dtype=np.uint16)
    f16 = np.fromfile(f"{d}/minilm.f16.raw", dtype=np.uint16)
    v = bf.astype(np.uint32)
    report("bf16: no move (`s e[7:1]`, `e0 m7`)", [u8(v >> 8), u8(v & 0xFF)], bf.nbytes, 2)
    report("bf16: `e8`, `s m7` (chosen)", [u8((v >> 7) & 0xFF), u8(((v >> 8) & 0x80) | (v & 0x7F))], bf.nbytes, 2)
    u = f16.astype(np.uint32)
    report("fp16: no move (`s e5 m2`, `m8`)", [u8(u >> 8), u8(u & 0xFF)], f16.nbytes, 2)
    r = ((u << 1) | (u >> 15)) & 0xFFFF
    report("fp16: sign to lsb (`e5 m3`, `m7 s`) (chosen)", [u8(r >> 8), u8(r & 0xFF)], f16.nbytes, 2)
    report("fp16: field split, 3 planes (`e5`, `s m7`, `m3`)",
           [u8((u >> 10) & 0x1F), u8(((u >> 8) & 0x80) | ((u >> 3) & 0x7F)), u8(u & 7)], f16.nbytes, 2)
    report("fp32: no move", [u8(f32 >> 24), u8((f32 >> 16) & 0xFF), u8((f32 >> 8) & 0xFF), u8(f32 & 0xFF)], f32.nbytes, 4)
    report("fp32: `e8`, `s m7`, `m8`, `m8` (chosen)",
           [u8((f32 >> 23) & 0xFF), u8(((f32 >> 24) & 0x80) | ((f32 >> 16) & 0x7F)), u8((f32 >> 8) & 0xFF), u8(f32 & 0xFF)],
           f32.nbytes, 4)
    # fp64: no native fp64 weights in the corpus; the fp32 model widened to fp64, with the 29
    # mantissa bits that widening leaves zero filled with noise (as a trained fp64 model would).
    w = f32.view(np.float32).astype(np.float64).view(np.uint64)
    w = w ^ np.random.default_rng(1).integers(0, 1 << 29, size=w.size, dtype=np.uint64)
    sh = lambda x, k: ((x >> np.uint64(8 * k)) & np.uint64(0xFF)).astype(np.uint8)
    planes64 = lambda x: [sh(x, k) for k in range(7, -1, -1)]
    report("fp64: no move (chosen)", planes64(w), w.nbytes, 8)
    report("fp64: sign to lsb (rotate left 1)", planes64((w << np.uint64(1)) | (w >> np.uint64(63))), w.nbytes, 8)
    e = (w >> np.uint64(52)) & np.uint64(0x7FF)
    s = w >> np.uint64(63)
    m = w & np.uint64((1 << 52) - 1)
    report("fp64: field split (`e11 s m52`)", planes64((e << np.uint64(53)) | (s << np.uint64(52)) | m), w.nbytes, 8)
    x = f32.view(np.float32)
    for name, dt, eb in [("fp8 e4m3fn", ml_dtypes.float8_e4m3fn, 4), ("fp8 e5m2", ml_dtypes.float8_e5m2, 5)]:
        b = x.astype(dt).view(np.uint8)
        mb = 7 - eb
        report(f"{name}: one plane, no move (chosen)", [b], b.nbytes, 1)
        report(f"{name}: one plane, sign to lsb", [u8((b << 1) | (b >> 7))], b.nbytes, 1)
        report(f"{name}: two planes (`e`, `s m`)", [u8((b >> mb) & ((1 << eb) - 1)), u8(((b >> 7) << mb) | (b & ((1 << mb) - 1)))], b.nbytes, 1)




def corpus_table(d):
    """Both layouts of every bf16, fp16 and fp32 file of the corpus: the per-chunk order-0
    bound of each (per plane: first, second), and of the better one chosen chunk by chunk."""
    import os
    print("| file | layout 0 (planes 0, 1) | layout 1 (planes 0, 1) | better per chunk | chunks with layout 1 |")
    print("|---|---|---|---|---|")
    for f in sorted(os.listdir(d)):
        parts = f.split(".")
        if len(parts) < 3 or parts[-1] != "raw" or parts[-2] not in ("bf16", "f16", "f32"):
            continue
        b = np.fromfile(os.path.join(d, f), dtype=np.uint8)
        if parts[-2] == "f32":
            v = b[: len(b) // 4 * 4].view(np.uint32)
            top, esize = (v >> 16).astype(np.uint32), 4
        else:
            top, esize = b[: len(b) // 2 * 2].view(np.uint16).astype(np.uint32), 2
        ce = CHUNK // esize
        if parts[-2] == "f16":
            l0 = [u8(top >> 7), u8((top << 1) | (top >> 15))]
        else:
            l0 = [u8(top >> 7), u8(((top >> 8) & 0x80) | (top & 0x7F))]
        l1 = [u8(top >> 8), u8(top)]
        c0 = [entropy_chunks(p, ce) for p in l0]
        c1 = [entropy_chunks(p, ce) for p in l1]
        t0, t1 = c0[0] + c0[1], c1[0] + c1[1]
        n = len(b)
        half = lambda c, p: f"{c.sum() / len(p):.3f}"
        print(f"| {f} | {t0.sum() / n:.4f} ({half(c0[0], l0[0])}, {half(c0[1], l0[1])}) | "
              f"{t1.sum() / n:.4f} ({half(c1[0], l1[0])}, {half(c1[1], l1[1])}) | "
              f"{np.minimum(t0, t1).sum() / n:.4f} | {(t1 < t0).sum()} of {len(t0)} |")


def entropy_chunks(plane, chunk_elems):
    out = []
    for i in range(0, len(plane), chunk_elems):
        c = np.bincount(plane[i:i + chunk_elems], minlength=256)
        c = c[c > 0]
        out.append(-(c * np.log2(c / c.sum())).sum() / 8)
    return np.array(out)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--corpus":
        corpus_table(sys.argv[2])
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "corpus")
