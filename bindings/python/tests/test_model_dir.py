"""Model folders without transformers: zipnn.compress_model_dir / decompress_model_dir and
the index rewrite (tests/test_hf.py loads such folders with transformers)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import zipnn
from conftest import repo_root, safetensors_bytes, tensor_bytes
from zipnn._model_dir import IndexRewriteError, rewrite_index


def tree(root):
    """{relative path: bytes} of every file under root."""
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def shard(names, seed):
    return safetensors_bytes(
        {n: ("BF16" if i % 2 else "F32", (64, 48), tensor_bytes("BF16" if i % 2 else "F32", 64 * 48, seed + i))
         for i, n in enumerate(names)},
        metadata={"format": "pt"})


@pytest.fixture
def model(tmp_path):
    """A sharded model folder as save_pretrained writes it (index pretty-printed), with a
    tokenizer file and a file in a subfolder."""
    m = tmp_path / "m"
    (m / "sub").mkdir(parents=True)
    shards = {"model-00001-of-00002.safetensors": ["a.weight", "b.weight"],
              "model-00002-of-00002.safetensors": ["c.weight", "d.bias", "e.weight"]}
    for i, (name, tensors) in enumerate(shards.items()):
        (m / name).write_bytes(shard(tensors, 10 * i))
    index = {"metadata": {"total_size": 12345},
             "weight_map": {t: name for name, ts in shards.items() for t in ts}}
    (m / "model.safetensors.index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    (m / "config.json").write_text('{"model_type": "bert"}\n')
    (m / "tokenizer.json").write_text('{"version": "1.0"}\n')
    (m / "sub" / "notes.txt").write_text("left as it is\n")
    return m


INDEX = b"""{
  "metadata": {"total_size": 5},
  "weight_map": {
    "a.weight": "model-00001-of-00002.safetensors",
    "model.safetensors": "model-00002-of-00002.safetensors",
    "b.weight": "model-00002-of-00002.safetensors"
  }
}
"""


def test_index_rewrite_is_exact_and_refuses_what_it_cannot_undo():
    c, n = rewrite_index(INDEX, True)
    assert n == 2
    assert c == INDEX.replace(b'00002.safetensors"\n', b'00002.safetensors.znn"\n').replace(
        b'00002.safetensors",', b'00002.safetensors.znn",').replace(
        b'00001-of-00002.safetensors"', b'00001-of-00002.safetensors.znn"')
    assert b'"model.safetensors": ' in c  # a key stays a key
    assert rewrite_index(c, False) == (INDEX, 2)
    assert rewrite_index(INDEX, False) == (INDEX, 0)
    esc = b'{"weight_map":{"a":"m\\u00e9.safetensors","b":"m\\u00e9.safetensors"}}'
    assert rewrite_index(esc, True)[0] == esc.replace(b'.safetensors"', b'.safetensors.znn"')
    for bad in [b'{"weight_map":{"a":"x.safetensors","b":"x.safetensors.znn"}}',
                b'{"weight_map":{"a":"x.safetensors.zn\\u006e"}}']:
        with pytest.raises(IndexRewriteError):
            rewrite_index(bad, False)
    for bad in [b"{", b"[]", b'{"weight_map": []}', b'{"weight_map": {"a": 1}}']:
        with pytest.raises(IndexRewriteError, match="not a valid index file"):
            rewrite_index(bad, True)


def test_a_compressed_folder_and_back_byte_for_byte(model, tmp_path):
    original = tree(model)
    written = zipnn.compress_model_dir(model, tmp_path / "c")
    c = tree(tmp_path / "c")
    assert sorted(written) == sorted(str(tmp_path / "c" / f) for f in c)
    assert sorted(c) == ["config.json", "model-00001-of-00002.safetensors.znn",
                         "model-00002-of-00002.safetensors.znn", "model.safetensors.index.json",
                         "sub/notes.txt", "tokenizer.json"]
    for f, data in c.items():
        if f.endswith(".znn"):
            assert data[:4] == b"\x89ZNT" and zipnn.safetensors.decompress(data) == original[f[:-4]]
        elif f.endswith(".index.json"):
            assert data == original[f].replace(b'.safetensors"', b'.safetensors.znn"')
        else:
            assert data == original[f], f
    with pytest.raises(zipnn.LimitExceededError):  # tensors of 12 KiB, a limit of 4 KiB
        zipnn.decompress_model_dir(tmp_path / "c", tmp_path / "r", max_size=4096)
    zipnn.decompress_model_dir(tmp_path / "c", tmp_path / "r", force=True)
    assert tree(tmp_path / "r") == original
    assert tree(model) == original  # the input is never touched


def test_in_place_both_ways(model, tmp_path):
    original = tree(model)
    zipnn.compress_model_dir(model)  # archives next to the shards; the index still names them
    both = tree(model)
    assert {f for f in both if not f.endswith(".znn")} == set(original)
    assert all(both[f] == original[f] for f in original)
    for p in model.glob("*.safetensors"):
        p.unlink()
    zipnn.decompress_model_dir(model)
    assert {f: b for f, b in tree(model).items() if not f.endswith(".znn")} == original
    # A folder compressed with dst, decompressed in place: the index gets its plain names.
    zipnn.compress_model_dir(model, tmp_path / "c")
    zipnn.decompress_model_dir(tmp_path / "c")
    assert {f: b for f, b in tree(tmp_path / "c").items() if not f.endswith(".znn")} == original


def test_a_damaged_archive_stops_before_the_index(model, tmp_path):
    zipnn.compress_model_dir(model, tmp_path / "c")
    index = (tmp_path / "c" / "model.safetensors.index.json").read_bytes()
    arc = tmp_path / "c" / "model-00002-of-00002.safetensors.znn"
    data = bytearray(arc.read_bytes())
    data[-100] ^= 0x10
    arc.write_bytes(bytes(data))
    with pytest.raises(zipnn.ChecksumError):
        zipnn.decompress_model_dir(tmp_path / "c")
    # In place, the index still names the archives: not every shard came back.
    assert (tmp_path / "c" / "model.safetensors.index.json").read_bytes() == index
    assert not (tmp_path / "c" / "model-00002-of-00002.safetensors").exists()


def test_refuses_existing_outputs_and_bad_indexes(model, tmp_path):
    out = tmp_path / "out"
    zipnn.compress_model_dir(model, out)
    before = tree(out)
    (out / "config.json").write_text("changed")
    with pytest.raises(FileExistsError):
        zipnn.compress_model_dir(model, out)
    assert (out / "config.json").read_text() == "changed"
    zipnn.compress_model_dir(model, out, force=True)
    assert tree(out) == before  # the same bytes again
    for bad in [dict(levle="max"), dict(level="extreme")]:
        with pytest.raises((TypeError, zipnn.InvalidOptionError)):
            zipnn.compress_model_dir(model, tmp_path / "bad-options", **bad)
        assert not (tmp_path / "bad-options").exists()
    (model / "model.safetensors.index.json").write_text('{"weight_map": 3}')
    with pytest.raises(IndexRewriteError, match="not a valid index file"):
        zipnn.compress_model_dir(model, tmp_path / "bad-out")
    assert not (tmp_path / "bad-out").exists()  # refused before anything was written


def test_half_compressed_comes_out_whole(model, tmp_path):
    original = tree(model)
    first = model / "model-00001-of-00002.safetensors"
    zipnn.safetensors.compress_file(first, str(first) + ".znn")
    first.unlink()  # this shard is compressed already
    zipnn.compress_model_dir(model, tmp_path / "c")
    c = tree(tmp_path / "c")
    assert not any(f.endswith(".safetensors") for f in c)
    assert c[first.name + ".znn"] == (model / (first.name + ".znn")).read_bytes()
    zipnn.decompress_model_dir(tmp_path / "c", tmp_path / "r")
    assert tree(tmp_path / "r") == original


def cli_binary():
    """The zipnn tool: ZIPNN_CLI, else this repository's release build, else PATH."""
    for cand in [os.environ.get("ZIPNN_CLI"), str(repo_root() / "target" / "release" / "zipnn"),
                 shutil.which("zipnn")]:
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def test_cli_and_python_write_the_same_folder(model, tmp_path):
    exe = cli_binary()
    if exe is None:
        pytest.skip("no zipnn command-line tool built (cargo build --release; ZIPNN_CLI names it)")
    zipnn.compress_model_dir(model, tmp_path / "py")
    subprocess.run([exe, "compress", "-q", "-r", str(model), "-o", str(tmp_path / "cli")], check=True)
    cli, py = tree(tmp_path / "cli"), tree(tmp_path / "py")
    assert cli.keys() == py.keys()
    for f in py:
        if f.endswith(".znn"):  # the same tensors (the tool may come from another build)
            restored = [zipnn.safetensors.decompress(x[f]) for x in (cli, py)]
            assert restored[0] == restored[1] == tree(model)[f[:-4]]
        else:
            assert cli[f] == py[f], f
    # And each reads what the other wrote.
    subprocess.run([exe, "decompress", "-q", "-r", str(tmp_path / "py"), "-o", str(tmp_path / "r1")],
                   check=True)
    zipnn.decompress_model_dir(tmp_path / "cli", tmp_path / "r2")
    assert tree(tmp_path / "r1") == tree(tmp_path / "r2") == tree(model)
