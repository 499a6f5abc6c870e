# signbit_to_lsb (rotate each element left by one bit, so the sign becomes the least
# significant bit) against no move, as per-chunk order-0 bounds on the fetched MiniLM casts.
#   python3 benches/signbit.py CORPUS_DIR   (needs numpy; reads minilm.{bf16,f16,f32}.raw)
import sys

import numpy as np

CORPUS = sys.argv[1] if len(sys.argv) > 1 else "corpus"
def bound(planes, chunk=256*1024):
    # planes: list of uint8 arrays (one per byte plane) over elements; chunk in input bytes
    nb = len(planes); per = chunk // nb; tot = 0.0
    n = len(planes[0])
    for s in range(0, n, per):
        for p in planes:
            c = np.bincount(p[s:s+per], minlength=256).astype(np.float64)
            c = c[c > 0]; m = c.sum()
            tot += -(c * np.log2(c / m)).sum() / 8
    return tot / (n * nb)
def planes_of(u, nbytes):
    return [((u >> (8 * (nbytes - 1 - k))) & 0xFF).astype(np.uint8) for k in range(nbytes)]
for name, dt, bits in [("bf16", np.uint16, 16), ("f16", np.uint16, 16), ("f32", np.uint32, 32)]:
    u = np.fromfile(f"{CORPUS}/minilm.{name}.raw", dtype=dt)
    nb = bits // 8
    plain = bound(planes_of(u, nb))
    one = dt(1)
    rot = ((u << one) | (u >> dt(bits - 1))).astype(dt)
    rotb = bound(planes_of(rot, nb))
    print(f"{name}: no move {plain:.4f}  signbit_to_lsb (rotate left 1) {rotb:.4f}")
