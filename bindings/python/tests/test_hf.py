"""Model folders and transformers' from_pretrained (zipnn.hf, zipnn.compress_model_dir).

A BERT model with the MiniLM-L6 shape (6 layers, hidden 384, 12 heads, intermediate
1536, vocabulary 30522), randomly initialised (no download), saved with save_pretrained as
one file and sharded, compressed, loaded through the patched from_pretrained: outputs and
every parameter must equal the uncompressed model's exactly, in fp32 and bf16. With
ZIPNN_CORPUS (or <repo>/corpus) holding the fetched minilm.*.safetensors, the real MiniLM
weights are loaded the same way.
"""

import os
import shutil
from pathlib import Path

import pytest

import zipnn
from conftest import repo_root
from zipnn import hf as zhf

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from transformers import AutoModel, BertConfig, BertModel  # noqa: E402
from transformers import modeling_utils as mu  # noqa: E402

SHARD = "20MB"  # MiniLM fp32 (91 MB) in 4 shards, bf16 in 3


def minilm_config(dtype):
    return BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6,
                      num_attention_heads=12, intermediate_size=1536, dtype=dtype)


def tree(root):
    """{relative path: bytes} of every file under root."""
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


INPUT_IDS = [[101, 7592, 1010, 2088, 999, 2023, 2003, 1037, 3231, 1012, 102],
             [101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 102]]


def outputs(model):
    ids = torch.tensor(INPUT_IDS)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids))
    return out.last_hidden_state, out.pooler_output


def assert_same_model(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k
    for x, y in zip(outputs(a), outputs(b)):
        assert x.dtype == y.dtype and torch.equal(x, y)


@pytest.fixture(autouse=True)
def no_patch_left():
    """Every test starts and ends with transformers unpatched."""
    zhf.unpatch_transformers()
    yield
    zhf.unpatch_transformers()


_built = {}


def model_folders(name, tmp_path_factory):
    """(dtype name, base) with base/single and base/sharded: a random model saved by
    save_pretrained as one file and in shards (built once per dtype)."""
    if name not in _built:
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[name]
        torch.manual_seed(0)
        model = BertModel(minilm_config(dtype)).to(dtype).eval()
        base = tmp_path_factory.mktemp(f"minilm-{name}")
        model.save_pretrained(base / "single")
        model.save_pretrained(base / "sharded", max_shard_size=SHARD)
        (base / "single" / "tokenizer_config.json").write_text('{"do_lower_case": true}\n')
        _built[name] = base
    return name, _built[name]


@pytest.fixture(scope="module", params=["fp32", "bf16"])
def folders(request, tmp_path_factory):
    """Both dtypes: the tests of exact loading."""
    return model_folders(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def bf16_folders(tmp_path_factory):
    """One dtype: the tests of everything else (the smaller model)."""
    return model_folders("bf16", tmp_path_factory)


@pytest.mark.parametrize("layout", ["single", "sharded"])
def test_from_pretrained_loads_a_compressed_folder_exactly(folders, layout, tmp_path):
    name, base = folders
    plain = base / layout
    comp = tmp_path / "znn"
    written = zipnn.compress_model_dir(plain, comp)
    files = tree(comp)
    shards = sorted(f for f in tree(plain) if f.endswith(".safetensors"))
    assert len(shards) == (1 if layout == "single" else (4 if name == "fp32" else 3))
    # Every shard became an archive; nothing else was compressed or left out.
    assert sorted(f for f in files if f.endswith(".znn")) == [s + ".znn" for s in shards]
    assert not any(f.endswith(".safetensors") for f in files)
    for f, data in files.items():
        if f.endswith(".znn"):
            assert data[:4] == b"\x89ZNT"
        elif f.endswith(".index.json"):
            assert b".safetensors.znn\"" in data and data != tree(plain)[f]
        else:
            assert data == tree(plain)[f], f
    assert sorted(written) == sorted(str(comp / f) for f in files)

    reference = AutoModel.from_pretrained(plain)
    # Without the patch, transformers cannot read the folder (no weights found, or an
    # index naming files it takes for pickles).
    with pytest.raises(Exception):
        AutoModel.from_pretrained(comp)

    zipnn.zipnn_hf()
    model = AutoModel.from_pretrained(comp)
    assert type(model) is type(reference)
    assert_same_model(model, reference)
    assert tree(comp) == files, "loading wrote nothing into the folder"

    # Byte for byte back.
    zipnn.decompress_model_dir(comp, tmp_path / "restored")
    assert tree(tmp_path / "restored") == tree(plain)


def test_tensors_are_decoded_into_the_parameters(folders, tmp_path, monkeypatch):
    """No copy between the library's output and the model: every parameter's memory is a
    tensor zipnn decoded into."""
    if int(transformers.__version__.split(".")[0]) < 5:
        pytest.skip("transformers 4.x copies loaded tensors into parameters it allocates")
    name, base = folders
    comp = tmp_path / "znn"
    zipnn.compress_model_dir(base / "sharded", comp)
    decoded = set()
    real = zipnn.safetensors.Archive.get_tensor

    def spy(self, *a, **k):
        t = real(self, *a, **k)
        decoded.add(t.data_ptr())
        return t

    monkeypatch.setattr(zipnn.safetensors.Archive, "get_tensor", spy)
    with zipnn.transformers_patched():
        model = AutoModel.from_pretrained(comp)
    params = dict(model.named_parameters())
    assert len(decoded) >= len({p.data_ptr() for p in params.values()}) > 50
    assert all(p.data_ptr() in decoded for p in params.values())


# Every file opened for writing (and every rename, link, copy, truncation) in this process
# while a list is set here: Python's audit events see each open(), os.open() and
# tempfile.mkstemp(); the library's C API has no call that writes a file.
_writes = {"sink": None}
_WRITE_EVENTS = {"os.rename", "os.link", "os.symlink", "os.truncate", "shutil.copyfile",
                 "shutil.copytree", "shutil.move"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _audit(event, args):
    sink = _writes["sink"]
    if sink is None:
        return
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else \
            bool((flags or 0) & _WRITE_FLAGS)
        if writing and not str(path).endswith(".pyc") and "__pycache__" not in str(path):
            sink.append((event, str(path)))
    elif event in _WRITE_EVENTS:
        sink.append((event, str(args[0])))


_audit_installed = []


def writes_during(fn):
    """(fn(), [(event, path) of every write while fn ran])."""
    import sys

    if not _audit_installed:
        sys.addaudithook(_audit)  # for the rest of the process: it checks the sink first
        _audit_installed.append(True)
    _writes["sink"] = seen = []
    try:
        return fn(), seen
    finally:
        _writes["sink"] = None


@pytest.mark.parametrize("layout", ["single", "sharded"])
def test_loading_writes_no_uncompressed_copy(bf16_folders, layout, tmp_path, monkeypatch):
    """from_pretrained on a compressed folder writes no file anywhere (no uncompressed
    shard beside the archives, none in the temporary directory): tensors go from the archive
    into memory only. The same watch does see the files replace_local_file=True writes."""
    import tempfile

    name, base = bf16_folders
    comp = tmp_path / "znn"
    zipnn.compress_model_dir(base / layout, comp)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    before = tree(comp)
    reference = AutoModel.from_pretrained(base / layout)  # transformers' imports done
    with zipnn.transformers_patched():
        model, writes = writes_during(lambda: AutoModel.from_pretrained(comp))
    assert writes == []
    assert tree(comp) == before and list(tmp.iterdir()) == []
    assert_same_model(model, reference)

    # The watch works: restoring the shards beside their archives is seen.
    with zipnn.transformers_patched(replace_local_file=True):
        _, writes = writes_during(lambda: AutoModel.from_pretrained(comp))
    written = {Path(p).name for event, p in writes if event == "open"}
    shards = {f for f in tree(base / layout) if f.endswith(".safetensors")}
    assert shards and all(any(w.startswith(s) for w in written) for s in shards), writes


def test_dtype_conversion_and_folders_compressed_in_place(folders, tmp_path):
    name, base = folders
    work = tmp_path / "m"
    shutil.copytree(base / "sharded", work)
    index_before = (work / "model.safetensors.index.json").read_bytes()
    zipnn.compress_model_dir(work)  # in place: archives next to the shards, index kept
    assert (work / "model.safetensors.index.json").read_bytes() == index_before
    for p in work.glob("*.safetensors"):
        p.unlink()
    reference = AutoModel.from_pretrained(base / "sharded", dtype=torch.float32)
    with zipnn.transformers_patched():
        # The index names X.safetensors; only X.safetensors.znn is there.
        model = AutoModel.from_pretrained(work, dtype=torch.float32)
    assert next(model.parameters()).dtype == torch.float32
    assert_same_model(model, reference)
    # And back in place: the original folder.
    zipnn.decompress_model_dir(work)
    restored = {k: v for k, v in tree(work).items() if not k.endswith(".znn")}
    assert restored == tree(base / "sharded")


def test_patch_is_undone_and_checked(bf16_folders, tmp_path, monkeypatch):
    name, base = bf16_folders
    originals = (mu._get_resolved_checkpoint_files, mu.safe_open)
    comp = tmp_path / "znn"
    zipnn.compress_model_dir(base / "single", comp)
    with zipnn.transformers_patched():
        assert zhf.is_patched()
        assert mu.safe_open is not originals[1]
        zipnn.zipnn_hf()  # again: no second layer
        assert mu.safe_open.__wrapped__ is originals[1]
        AutoModel.from_pretrained(comp)
    assert not zhf.is_patched()
    assert (mu._get_resolved_checkpoint_files, mu.safe_open) == originals
    # A size limit refuses the word embeddings (30522 x 384 bf16) before allocating them.
    with zipnn.transformers_patched(max_tensor_size=1 << 20), \
            pytest.raises(zipnn.LimitExceededError, match="word_embeddings"):
        AutoModel.from_pretrained(comp)
    with pytest.raises(OSError):
        AutoModel.from_pretrained(comp)
    # Plain folders load as before while patched.
    with zipnn.transformers_patched():
        assert_same_model(AutoModel.from_pretrained(base / "single"),
                          AutoModel.from_pretrained(base / "sharded"))

    # A transformers whose loading code is not what the patch expects is refused, clearly.
    monkeypatch.delattr(mu, "_get_resolved_checkpoint_files")
    with pytest.raises(zhf.TransformersNotSupportedError, match="_get_resolved_checkpoint_files"):
        zipnn.zipnn_hf()
    monkeypatch.setattr(mu, "_get_resolved_checkpoint_files", lambda path, options: None, raising=False)
    with pytest.raises(zhf.TransformersNotSupportedError, match="has no parameter .*variant"):
        zipnn.zipnn_hf()
    assert not zhf.is_patched() and mu.safe_open is originals[1]


@pytest.mark.parametrize("layout", ["single", "sharded"])
def test_hub_snapshot_layout(bf16_folders, layout, tmp_path):
    """A Hub repository in transformers' cache (no network: local_files_only), its weights
    in a subfolder."""
    name, base = bf16_folders
    snap = tmp_path / "hub" / "models--zipnn-test--minilm" / "snapshots" / ("0" * 40)
    zipnn.compress_model_dir(base / layout, snap / "sub")
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("0" * 40)
    reference = AutoModel.from_pretrained(base / layout)
    with zipnn.transformers_patched():
        model = AutoModel.from_pretrained("zipnn-test/minilm", subfolder="sub",
                                          cache_dir=tmp_path / "hub", local_files_only=True)
    assert_same_model(model, reference)


@pytest.mark.parametrize("layout", ["single", "sharded"])
def test_replace_local_file_restores_the_folder(bf16_folders, layout, tmp_path):
    """The reference package's zipnn_hf(replace_local_file=True): the folder becomes the
    uncompressed one, which transformers then loads without zipnn."""
    name, base = bf16_folders
    comp = tmp_path / "znn"
    zipnn.compress_model_dir(base / layout, comp)
    with zipnn.transformers_patched(replace_local_file=True):
        model = AutoModel.from_pretrained(comp)
    assert tree(comp) == tree(base / layout)
    reference = AutoModel.from_pretrained(base / layout)
    assert_same_model(model, reference)
    assert_same_model(AutoModel.from_pretrained(comp), reference)


def test_variants(bf16_folders, tmp_path):
    name, base = bf16_folders
    plain = tmp_path / "plain"
    AutoModel.from_pretrained(base / "single").save_pretrained(plain, variant="v2")
    assert (plain / "model.v2.safetensors").is_file()
    comp = tmp_path / "znn"
    zipnn.compress_model_dir(plain, comp)
    with zipnn.transformers_patched():
        model = AutoModel.from_pretrained(comp, variant="v2")
        with pytest.raises(OSError):
            AutoModel.from_pretrained(comp)  # no such file without the variant
    assert_same_model(model, AutoModel.from_pretrained(base / "single"))


def test_safetensors_loaders_swap_their_import(bf16_folders, tmp_path):
    """Code written against the safetensors package (diffusers-, vLLM-style loaders) reads
    archives by importing zipnn.safetensors instead (one dtype: test_safetensors.py covers
    every dtype of the module itself)."""
    import safetensors
    import safetensors.torch

    name, base = bf16_folders
    comp = tmp_path / "znn"
    zipnn.compress_model_dir(base / "sharded", comp)

    def load_sharded(folder, st, st_torch):
        """A loader as such libraries write it, over the module pair it is given."""
        import json

        index = json.loads((folder / "model.safetensors.index.json").read_text())
        state = {}
        for shard in sorted(set(index["weight_map"].values())):
            with st.safe_open(str(folder / shard), framework="pt", device="cpu") as f:
                assert f.metadata() == {"format": "pt"}
                for i, k in enumerate(f.keys()):
                    sl = f.get_slice(k)
                    state[k] = sl[:]
                    assert sl.get_shape() == list(state[k].shape)
                    if i == 0:  # a part
                        assert torch.equal(f.get_slice(k)[1:3], state[k][1:3])
            whole = st_torch.load_file(str(folder / shard))
            assert all(torch.equal(whole[k], state[k]) for k in whole)
        return state

    plain = load_sharded(base / "sharded", safetensors, safetensors.torch)
    ours = load_sharded(comp, zipnn.safetensors, zipnn.safetensors.torch)
    assert plain.keys() == ours.keys()
    assert all(plain[k].dtype == ours[k].dtype and torch.equal(plain[k], ours[k]) for k in plain)
    # And into models built by hand.
    dtype = plain[next(iter(plain))].dtype
    models = []
    for state in (plain, ours):
        m = BertModel(minilm_config(dtype)).to(dtype).eval()
        assert not m.load_state_dict(state, strict=False).unexpected_keys
        models.append(m)
    assert_same_model(*models)


def test_a_whole_file_compressed_as_one_piece(bf16_folders, tmp_path):
    """model.safetensors.znn holding the whole file as one frame (not an archive) is
    decoded into memory and read from there."""
    name, base = bf16_folders
    folder = tmp_path / "whole"
    folder.mkdir()
    shutil.copyfile(base / "single" / "config.json", folder / "config.json")
    data = (base / "single" / "model.safetensors").read_bytes()
    (folder / "model.safetensors.znn").write_bytes(zipnn.compress(data, dtype="bf16"))
    with zipnn.transformers_patched():
        model = AutoModel.from_pretrained(folder)
    assert_same_model(model, AutoModel.from_pretrained(base / "single"))
    with zipnn.transformers_patched(replace_local_file=True):
        AutoModel.from_pretrained(folder)
    assert (folder / "model.safetensors").read_bytes() == data
    assert not (folder / "model.safetensors.znn").exists()


def test_the_reference_packages_layout(tmp_path):
    """model.safetensors.znn as the reference package's zipnn_hf() reads it: the whole
    safetensors file compressed as one piece (tests/reference-vectors/hf)."""
    vectors = repo_root() / "tests" / "reference-vectors"
    src = vectors / "hf" / "model.safetensors.znn"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    import safetensors.torch

    expected = safetensors.torch.load_file(str(vectors / "inputs" / "st.meta.safetensors"))
    folder = tmp_path / "ref"
    folder.mkdir()
    minilm_config("float32").save_pretrained(folder)
    shutil.copyfile(src, folder / "model.safetensors.znn")
    try:
        zipnn.decompress(src.read_bytes())
    except zipnn.NotAFrameError:
        # Not decodable by this build: from_pretrained says which file and why.
        with zipnn.transformers_patched(), \
                pytest.raises(zipnn.NotAFrameError, match="model.safetensors.znn: neither"):
            AutoModel.from_pretrained(folder)
        return
    with zipnn.transformers_patched():
        model = AutoModel.from_pretrained(folder)
    state = model.state_dict()
    # Six weights and embeddings.position_ids (a buffer the model may not keep).
    assert len(expected) == 7
    compared = [k for k in expected if k in state]
    assert len(compared) >= 6
    for k in compared:
        assert torch.equal(state[k], expected[k].to(state[k].dtype)), k


def corpus_dir():
    env = os.environ.get("ZIPNN_CORPUS")
    return Path(env) if env else repo_root() / "corpus"


@pytest.mark.parametrize("name", ["f32", "bf16"])
def test_real_minilm_weights(name, tmp_path):
    src = corpus_dir() / f"minilm.{name}.safetensors"
    if not src.is_file():
        pytest.skip(f"{src} not found (fetch the corpus; ZIPNN_CORPUS names its folder)")
    plain = tmp_path / "plain"
    plain.mkdir()
    minilm_config({"f32": "float32", "bf16": "bfloat16"}[name]).save_pretrained(plain)
    shutil.copyfile(src, plain / "model.safetensors")
    comp = tmp_path / "znn"
    zipnn.compress_model_dir(plain, comp)
    with zipnn.transformers_patched():
        model = AutoModel.from_pretrained(comp)
    assert_same_model(model, AutoModel.from_pretrained(plain))
