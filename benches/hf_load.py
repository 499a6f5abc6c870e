"""Load time of a transformers model folder: plain safetensors against zipnn archives.

    python benches/hf_load.py [CORPUS_DIR] [-n RUNS]

For each of minilm.f32.safetensors and minilm.bf16.safetensors in CORPUS_DIR (default
./corpus; fetched by ../shared/corpus/fetch.sh), builds a model folder (a config.json for
the MiniLM-L6 BERT shape, the file as model.safetensors), compresses it with
zipnn.compress_model_dir, and times AutoModel.from_pretrained on both folders, alternating
plain and compressed, best of RUNS in one process (files in the page cache: the time is
that of reading and decoding, not of the disk), alone and followed by one read of every
weight (a plain folder is memory-mapped: from_pretrained alone reads none of it). Checks
that both give the same parameters. Needs torch, transformers and the zipnn package (or ZIPNN_LIBRARY_PATH and
PYTHONPATH=bindings/python).
"""

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="?", default="corpus")
    ap.add_argument("-n", "--runs", type=int, default=7)
    args = ap.parse_args()

    import torch
    import transformers
    from transformers import AutoModel, BertConfig
    from transformers.utils import logging as hf_logging

    import zipnn

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    zipnn.zipnn_hf()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"zipnn {zipnn.__version__}, {os.cpu_count()} cores; best of {args.runs} loads")
    print(f"{'folder':<28} {'timed':<20} {'weights bytes':>14} {'plain s':>9} {'zipnn s':>9} {'zipnn/plain':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, dtype in [("f32", "float32"), ("bf16", "bfloat16")]:
            src = Path(args.corpus) / f"minilm.{name}.safetensors"
            if not src.is_file():
                print(f"{src}: not found, skipped")
                continue
            plain = Path(tmp) / f"minilm-{name}"
            plain.mkdir()
            BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6,
                       num_attention_heads=12, intermediate_size=1536,
                       dtype=dtype).save_pretrained(plain)
            shutil.copyfile(src, plain / "model.safetensors")
            comp = Path(tmp) / f"minilm-{name}-znn"
            zipnn.compress_model_dir(plain, comp)
            times = {k: [] for k in ("plain", "znn", "plain+read", "znn+read")}
            models = {}
            for _ in range(args.runs):
                for kind, folder in (("plain", plain), ("znn", comp)):
                    t = time.perf_counter()
                    model = AutoModel.from_pretrained(folder)
                    t1 = time.perf_counter()
                    # Read every weight once, as a forward pass over all of them would: a
                    # memory-mapped file is only read here.
                    with torch.no_grad():
                        for p in model.parameters():
                            p.sum()
                    t2 = time.perf_counter()
                    times[kind].append(t1 - t)
                    times[kind + "+read"].append(t2 - t)
                    models[kind] = model
            a, b = (m.state_dict() for m in (models["plain"], models["znn"]))
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
            best = {k: min(v) for k, v in times.items()}
            size = (comp / "model.safetensors.znn").stat().st_size
            label = f"minilm.{name} ({size / src.stat().st_size:.4f} ratio)"
            for what, p, z in (("from_pretrained", best["plain"], best["znn"]),
                               ("+ read every weight", best["plain+read"], best["znn+read"])):
                print(f"{label:<28} {what:<20} {src.stat().st_size:>14} {p:>9.3f} {z:>9.3f} {z / p:>12.2f}")


if __name__ == "__main__":
    main()
