"""Load time of a transformers model folder: plain safetensors against zipnn archives.

    python benches/hf_load.py [CORPUS_DIR] [-n RUNS] [--models minilm,minilm-ft]
    taskset -c 1 python benches/hf_load.py ...      # one core: one decode thread
    python benches/hf_load.py --reference ...       # the reference package instead

For each of MODEL.f32.safetensors and MODEL.bf16.safetensors in CORPUS_DIR (default
./corpus; fetched by ../shared/corpus/fetch.sh), builds two model folders, a config.json
for the MiniLM-L6 BERT shape (6 layers, hidden 384, 12 heads, intermediate 1536,
vocabulary 30522) with the file as model.safetensors ("single"), and the same model saved
by save_pretrained in 20 MB shards with its index ("sharded"); compresses each with
zipnn.compress_model_dir, and times AutoModel.from_pretrained on the plain and the
compressed folder, alternating them, best of RUNS in one process (files in the page cache:
the time is that of reading and decoding, not of the disk), alone and followed by one read
of every weight (a plain folder is memory-mapped: from_pretrained alone reads none of it),
and the CPU time of the latter (all threads; steadier than elapsed time on a busy machine).
Checks that both give the same parameters. Decode and torch threads: the cores the process
may run on (`taskset` chooses them). Needs torch, transformers and the zipnn package (or
ZIPNN_LIBRARY_PATH and PYTHONPATH=bindings/python).

--reference runs with the reference package (zipnn 0.5.4, `import zipnn` must be it): each
X.safetensors becomes X.safetensors.znn as its zipnn_compress_file.py writes it (the whole
file through ZipNN(is_streaming=True)); the script first tries the reference's zipnn_hf()
with AutoModel.from_pretrained on that folder and says whether it loads, then times what
its hook does with such a file (decompress the whole file into memory, then
safetensors.torch.load) followed by from_pretrained(None, config=..., state_dict=...),
against from_pretrained of the plain folder in the same process.
"""

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

CONFIG = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
              intermediate_size=1536)
SHARD = "20MB"


def dtype_arg(dtype):
    """The from_pretrained/from_config argument for dtype (transformers 4.x, whose
    from_pretrained gives float32 by default, names it torch_dtype)."""
    import torch
    import transformers

    name = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    return {name: getattr(torch, dtype)}


def build_folders(src, dtype, tmp):
    """{"single": folder, "sharded": folder} of plain safetensors for the corpus file src."""
    from transformers import AutoModel, BertConfig

    single = tmp / "single"
    single.mkdir()
    BertConfig(**CONFIG, dtype=dtype).save_pretrained(single)
    shutil.copyfile(src, single / "model.safetensors")
    sharded = tmp / "sharded"
    AutoModel.from_pretrained(single, **dtype_arg(dtype)).save_pretrained(
        sharded, max_shard_size=SHARD)
    return {"single": single, "sharded": sharded}


def read_all(model):
    """Reads every weight once, as a forward pass over all of them would: a memory-mapped
    file is only read here."""
    import torch

    with torch.no_grad():
        for p in model.parameters():
            p.sum()


def time_loads(loaders, runs):
    """{name: (best load s, best load+read s, last model, best load+read CPU s)}, the
    loaders alternating. CPU time (of every thread of the process) is less disturbed than
    elapsed time by other programs on a busy machine."""
    times = {k: ([], [], []) for k in loaders}
    models = {}
    for _ in range(runs):
        for kind, load in loaders.items():
            c = time.process_time()
            t = time.perf_counter()
            model = load()
            t1 = time.perf_counter()
            read_all(model)
            t2 = time.perf_counter()
            c2 = time.process_time()
            times[kind][0].append(t1 - t)
            times[kind][1].append(t2 - t)
            times[kind][2].append(c2 - c)
            models[kind] = model
    return {k: (min(a), min(b), models[k], min(c)) for k, (a, b, c) in times.items()}


def same_model(a, b):
    import torch

    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k])
                                          for k in sa)


def size_of(folder, suffix):
    return sum(p.stat().st_size for p in folder.iterdir() if p.name.endswith(suffix))


def row(label, what, plain_size, p, z):
    print(f"{label:<34} {what:<24} {plain_size:>10} {p:>8.3f} {z:>8.3f} {z / p:>7.2f}")


def rows(label, first, psize, plain, other):
    row(label, first, psize, plain[0], other[0])
    row(label, "+ read every weight", psize, plain[1], other[1])
    row(label, "  CPU s of that", psize, plain[3], other[3])


def ours(args, threads):
    from transformers import AutoModel

    import zipnn

    zipnn.zipnn_hf()
    print(f"zipnn {zipnn.__version__}")
    print(f"{'folder (compressed/plain)':<34} {'timed':<24} {'bytes':>10} {'plain s':>8} "
          f"{'zipnn s':>8} {'z/plain':>7}")
    for model_name in args.models.split(","):
        for name, dtype in [("f32", "float32"), ("bf16", "bfloat16")]:
            src = Path(args.corpus) / f"{model_name}.{name}.safetensors"
            if not src.is_file():
                print(f"{src}: not found, skipped")
                continue
            with tempfile.TemporaryDirectory() as tmp:
                for layout, plain in build_folders(src, dtype, Path(tmp)).items():
                    comp = Path(tmp) / f"{layout}-znn"
                    zipnn.compress_model_dir(plain, comp)
                    best = time_loads({"plain": lambda: AutoModel.from_pretrained(plain),
                                       "znn": lambda: AutoModel.from_pretrained(comp)}, args.runs)
                    assert same_model(best["plain"][2], best["znn"][2])
                    psize = size_of(plain, ".safetensors")
                    label = (f"{model_name}.{name} {layout} "
                             f"({size_of(comp, '.safetensors.znn') / psize:.4f})")
                    rows(label, "from_pretrained", psize, best["plain"], best["znn"])


def reference(args, threads):
    import safetensors.torch
    from transformers import AutoConfig, AutoModel, PreTrainedModel
    from transformers import modeling_utils as mu

    import zipnn

    print(f"reference zipnn {getattr(zipnn, '__version__', '0.5.4?')} ({zipnn.__file__})")
    print(f"{'folder (compressed/plain)':<34} {'timed':<24} {'bytes':>10} {'plain s':>8} "
          f"{'ref s':>8} {'r/plain':>7}")
    tried = False
    for model_name in args.models.split(","):
        for name, dtype in [("f32", "float32"), ("bf16", "bfloat16")]:
            src = Path(args.corpus) / f"{model_name}.{name}.safetensors"
            if not src.is_file():
                print(f"{src}: not found, skipped")
                continue
            bdt = {"f32": "float32", "bf16": "bfloat16"}[name]
            with tempfile.TemporaryDirectory() as tmp:
                for layout, plain in build_folders(src, dtype, Path(tmp)).items():
                    comp = Path(tmp) / f"{layout}-znn"
                    comp.mkdir()
                    shards = []
                    for p in sorted(plain.iterdir()):
                        if p.name.endswith(".safetensors"):
                            blob = zipnn.ZipNN(is_streaming=True, bytearray_dtype=bdt,
                                               threads=threads).compress(p.read_bytes())
                            (comp / (p.name + ".znn")).write_bytes(blob)
                            shards.append(comp / (p.name + ".znn"))
                        elif p.name.endswith(".index.json"):
                            (comp / p.name).write_text(
                                p.read_text().replace('.safetensors"', '.safetensors.znn"'))
                        else:
                            shutil.copyfile(p, comp / p.name)
                    if not tried:
                        tried = True
                        # Its patches are undone afterwards: the plain loads timed below
                        # run through transformers as installed.
                        saved = (dict(vars(mu)), PreTrainedModel.__dict__["from_pretrained"])
                        try:
                            zipnn.zipnn_hf()
                            AutoModel.from_pretrained(str(comp))
                            print(f"reference zipnn_hf(): from_pretrained loads {comp.name}")
                        except Exception as e:  # what a user of it would see
                            if e.__cause__ is not None:  # its ImportError hides the reason
                                e = e.__cause__
                            msg = str(e).splitlines()[0][:150]
                            print(f"reference zipnn_hf(): from_pretrained fails on {layout}: "
                                  f"{type(e).__name__}: {msg}")
                        finally:
                            vars(mu).update(saved[0])
                            PreTrainedModel.from_pretrained = saved[1]
                    config = AutoConfig.from_pretrained(plain)
                    dtype_kw = dtype_arg(dtype)
                    model_class = type(AutoModel.from_pretrained(plain, **dtype_kw))

                    def hook():
                        state = {}
                        for s in shards:
                            data = zipnn.ZipNN(is_streaming=True, threads=threads).decompress(
                                s.read_bytes())
                            state.update(safetensors.torch.load(bytes(data)))
                        # from_pretrained given the weights in memory, as inside the hook
                        # (a model built from the config would spend longer on a random
                        # initialisation than on loading)
                        return model_class.from_pretrained(None, config=config, state_dict=state,
                                                           **dtype_kw)

                    best = time_loads({"plain": lambda: AutoModel.from_pretrained(plain, **dtype_kw),
                                       "ref": hook}, args.runs)
                    assert same_model(best["plain"][2], best["ref"][2])
                    psize = size_of(plain, ".safetensors")
                    label = (f"{model_name}.{name} {layout} "
                             f"({size_of(comp, '.safetensors.znn') / psize:.4f})")
                    rows(label, "decode, from_pretrained", psize, best["plain"], best["ref"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="?", default="corpus")
    ap.add_argument("-n", "--runs", type=int, default=7)
    ap.add_argument("--models", default="minilm,minilm-ft",
                    help="corpus names, comma-separated (MODEL.f32/.bf16.safetensors)")
    ap.add_argument("--reference", action="store_true",
                    help="time the reference package's loading instead of this zipnn's")
    args = ap.parse_args()

    import torch
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(threads)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"{threads} thread(s) (cores this process may use); best of {args.runs} loads")
    (reference if args.reference else ours)(args, threads)


if __name__ == "__main__":
    main()
