"""The C calls release the GIL: Python threads compress in parallel."""

import sys
import threading
import time

import zipnn
from conftest import bf16_like


def test_many_threads_round_trip():
    datas = [bf16_like(300_000, seed=i) for i in range(8)]
    want = [zipnn.compress(d, dtype="bf16", threads=1) for d in datas]
    results = [None] * 8
    errors = []

    def work(i):
        try:
            for _ in range(3):
                f = zipnn.compress(datas[i], dtype="bf16", threads=1)
                assert f == want[i]
                assert zipnn.decompress(f, threads=1) == datas[i]
            results[i] = True
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors and all(results)


def test_gil_released_during_native_call():
    """Deterministic: while one thread is inside a single long zipnn_compress call, the main
    thread keeps executing Python code. If the GIL were held for the call, no Python code of
    the main thread could run strictly inside the call's time window (apart from its edges,
    where the worker runs Python). We sample the main thread's progress with timestamps and
    count samples in the middle half of the call."""
    data = bf16_like(32 << 20)  # 64 MiB
    bounds = {}
    done = threading.Event()
    started = threading.Event()

    def worker():
        started.set()
        t0 = time.perf_counter()
        zipnn.compress(data, dtype="bf16", level="max", threads=1)
        t1 = time.perf_counter()
        bounds["call"] = (t0, t1)
        done.set()

    samples = []
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        th = threading.Thread(target=worker)
        th.start()
        started.wait()
        counter = 0
        while not done.is_set():
            counter += 1
            if counter % 200 == 0:
                samples.append(time.perf_counter())
        th.join()
    finally:
        sys.setswitchinterval(old)
    t0, t1 = bounds["call"]
    span = t1 - t0
    mid = [s for s in samples if t0 + span / 4 < s < t1 - span / 4]
    assert span > 0.01
    assert len(mid) >= 20, (span, len(samples), len(mid))
