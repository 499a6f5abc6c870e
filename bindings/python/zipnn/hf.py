"""Compressed model folders in Hugging Face ``transformers``' ``from_pretrained``.

::

    from zipnn import zipnn_hf
    zipnn_hf()                                             # once, before loading
    model = AutoModel.from_pretrained("my-model-znn")      # X.safetensors.znn shards

A compressed folder is what ``zipnn compress -r my-model -o my-model-znn`` or
:func:`zipnn.compress_model_dir` writes: each ``X.safetensors`` replaced by the archive
``X.safetensors.znn``, config and tokenizer files as they were, and for a sharded checkpoint
the index ``model.safetensors.index.json`` naming the archives. Also loaded: a folder
whose index still names ``X.safetensors`` where only ``X.safetensors.znn`` is left (an in
place compression with the plain shards removed), a Hub repository or snapshot laid out so,
archives stored under the plain name ``X.safetensors``, and an ``X.safetensors.znn`` that
holds the whole safetensors file compressed as one piece (anything :func:`zipnn.decompress`
reads; the layout the reference package's ``zipnn_hf`` loads), which is decoded into memory
and read from there. A folder that has the plain weights loads them as before.

Tensors are decoded by the library straight into the memory of the tensors handed to
``transformers`` (``torch.empty`` of each tensor's dtype and shape, which become the
model's parameters when no dtype conversion is asked for); nothing uncompressed is written
to disk.

What :func:`patch_transformers` (alias :func:`zipnn_hf`) changes, inside ``transformers``
only (the ``safetensors`` package itself is not touched):

1. ``transformers.modeling_utils._get_resolved_checkpoint_files``, which finds a model's
   weight files: wrapped so that compressed weights are found, and named by their plain
   names (``X.safetensors``) for the rest of ``transformers``.
2. ``safe_open`` as imported by ``transformers.modeling_utils`` (and by
   ``modeling_layers``, ``integrations.accelerate`` and ``quantizers.quantizer_torchao``
   when present): a file that is a zipnn archive, or a missing ``X.safetensors`` next to
   which ``X.safetensors.znn`` exists, is opened with :class:`zipnn.safetensors.safe_open`;
   every other file goes to the ``safetensors`` package's ``safe_open`` as before.
3. ``transformers.modeling_utils._is_on_hf_mount`` (when present): False for compressed
   weights, which are read with ordinary file reads, never memory-mapped.

:func:`unpatch_transformers` puts the originals back; ``with transformers_patched(): ...``
patches for a block. Calling :func:`patch_transformers` again patches nothing twice (it
only takes the new ``replace_local_file`` and ``max_tensor_size``). The patch is checked against the installed
``transformers`` when it is applied: a version whose loading code lacks these functions,
or has them with other parameters, is refused with :class:`TransformersNotSupportedError`
rather than patched blindly. Tested with transformers 5.25 and 4.57 (4.46, which has no
``_get_resolved_checkpoint_files``, is refused). Not covered:
``from_pretrained(..., disable_mmap=True)`` and a ``device_map`` that offloads weights to
disk (``transformers`` or ``accelerate`` then read the weight files themselves), and
processes started before the patch (patch in each worker process).
"""

from __future__ import annotations

import inspect
import os
import threading
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

_MAGIC = b"\x89ZNT"
_WEIGHTS = "model.safetensors"

#: (module, attribute, original, replacement) for every patched attribute.
_patches: List[Tuple[Any, str, Any, Any]] = []
_replace_local_file = False
_NO_LIMIT = (1 << 64) - 1
_max_tensor_size = _NO_LIMIT


class TransformersNotSupportedError(RuntimeError):
    """The installed ``transformers`` loads weights in a way this zipnn cannot patch."""


# -- archive paths ------------------------------------------------------------------------------
def _is_archive(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == _MAGIC
    except OSError:
        return False


def archive_path(path: Any) -> Optional[str]:
    """The zipnn archive that ``path`` (a weight file name as ``transformers`` uses it)
    stands for, or None: ``path`` itself when it is an archive, else ``path + ".znn"`` when
    ``path`` does not exist and that does."""
    try:
        p = os.fspath(path)
    except TypeError:
        return None
    if not isinstance(p, str):
        p = os.fsdecode(p)
    if os.path.isfile(p):
        return p if _is_archive(p) else None
    if p.endswith(".safetensors") and os.path.isfile(p + ".znn"):
        return p + ".znn"
    return None


def _plain_name(path: str) -> str:
    """``X.safetensors`` for ``X.safetensors.znn``; any other path as it is."""
    return path[:-4] if path.endswith(".safetensors.znn") else path


def _restore_beside(path: str) -> None:
    """For ``replace_local_file``: the plain shard written next to its archive, which is
    then removed."""
    from .safetensors import decompress_file

    arc = archive_path(path)
    if arc is None or arc == path:
        return
    if _is_archive(arc):
        decompress_file(arc, path)
    else:  # the whole file compressed as one piece
        from . import decompress
        from ._model_dir import _write_bytes

        with open(arc, "rb") as f:
            _write_bytes(path, decompress(f.read()), None)
    os.remove(arc)


# -- the replacements ---------------------------------------------------------------------------
def _make_safe_open(original: Callable[..., Any]) -> Callable[..., Any]:
    def safe_open(*args: Any, **kwargs: Any) -> Any:
        filename = args[0] if args else kwargs.get("filename")
        arc = archive_path(filename) if filename is not None else None
        if arc is None:
            return original(*args, **kwargs)
        from .safetensors import safe_open as zipnn_safe_open

        framework = args[1] if len(args) > 1 else kwargs.get("framework", "pt")
        device = args[2] if len(args) > 2 else kwargs.get("device", "cpu")
        if not _is_archive(arc):
            return _WholeFile(arc, device)
        # backend= and the like do not apply
        return zipnn_safe_open(arc, framework, device, max_size=_max_tensor_size)

    safe_open.__wrapped__ = original  # type: ignore[attr-defined]
    safe_open.__doc__ = "safe_open that also opens zipnn archives (zipnn.hf.patch_transformers)."
    return safe_open


class _WholeFile:
    """A ``X.safetensors.znn`` that is not an archive: the whole safetensors file
    compressed as one piece (the layout the reference package's Hugging Face loader reads),
    decoded by :func:`zipnn.decompress` into memory and read from there (the
    ``safe_open`` methods transformers uses)."""

    def __init__(self, path: str, device: Any) -> None:
        import json
        import struct

        from . import decompress
        from ._errors import NotAFrameError

        with open(path, "rb") as f:
            data = f.read()
        try:
            self._data = decompress(data)
        except NotAFrameError as e:
            raise NotAFrameError(
                f"neither a zipnn archive nor a file this zipnn can decode ({e.message})",
                code=e.code, detail=path) from None
        (n,) = struct.unpack_from("<Q", self._data, 0) if len(self._data) >= 8 else (0,)
        self._header = json.loads(bytes(self._data[8:8 + n]) or b"{}")
        self._device = device
        self._tensors: Optional[Dict[str, Any]] = None
        self._lock = threading.Lock()  # transformers reads tensors from several threads

    def _all(self) -> Dict[str, Any]:
        with self._lock:
            if self._tensors is None:
                from safetensors.torch import load

                self._tensors = load(bytes(self._data))
            return self._tensors

    def keys(self) -> List[str]:
        return sorted(k for k in self._header if k != "__metadata__")

    def offset_keys(self) -> List[str]:
        return sorted(self.keys(), key=lambda k: self._header[k]["data_offsets"][0])

    def metadata(self) -> Optional[Dict[str, str]]:
        return self._header.get("__metadata__")

    def get_tensor(self, name: str) -> Any:
        t = self._all()[name]
        return t if str(self._device) == "cpu" else t.to(self._device)

    def get_slice(self, name: str) -> "_WholeFileSlice":
        return _WholeFileSlice(self, name)

    def __enter__(self) -> "_WholeFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._tensors = None


class _WholeFileSlice:
    def __init__(self, f: _WholeFile, name: str) -> None:
        self._f, self._name = f, name

    def get_shape(self) -> List[int]:
        return list(self._f._header[self._name]["shape"])

    def get_dtype(self) -> str:
        return str(self._f._header[self._name]["dtype"])

    def __getitem__(self, index: Any) -> Any:
        return self._f.get_tensor(self._name)[index]


def _make_is_on_hf_mount(original: Callable[..., Any]) -> Callable[..., Any]:
    def _is_on_hf_mount(path: Any) -> bool:
        if archive_path(path) is not None:
            return False
        return original(path)

    _is_on_hf_mount.__wrapped__ = original  # type: ignore[attr-defined]
    return _is_on_hf_mount


_DOWNLOAD_KEYS = ("cache_dir", "force_download", "proxies", "local_files_only", "token",
                  "revision", "subfolder")


def _make_resolver(original: Callable[..., Any], add_variant: Callable[[str, Optional[str]], str]
                   ) -> Callable[..., Any]:
    sig = inspect.signature(original)

    def resolve(*args: Any, **kwargs: Any) -> Any:
        a = sig.bind(*args, **kwargs).arguments
        name = a.get("pretrained_model_name_or_path")
        download: Dict[str, Any] = dict(a.get("download_kwargs") or {})
        for k in _DOWNLOAD_KEYS:
            if k in a:
                download[k] = a[k]
        ours = (name is not None and a.get("gguf_file") is None
                and a.get("transformers_explicit_filename") is None
                and a.get("use_safetensors") is not False)
        weights = add_variant(_WEIGHTS, a.get("variant"))
        if ours and os.path.isdir(os.fspath(name)):
            folder = os.path.join(os.fspath(name), download.get("subfolder") or "")
            plain = os.path.join(folder, weights)
            index = os.path.join(folder, add_variant(_WEIGHTS + ".index.json", a.get("variant")))
            if not os.path.isfile(plain) and not os.path.isfile(index) \
                    and os.path.isfile(plain + ".znn"):
                return _finish([plain], None)
        hub = ours and not os.path.isdir(os.fspath(name))
        try:
            files, meta = original(*args, **kwargs)
        except OSError:
            if not hub:
                raise
            found = _from_hub(os.fspath(name), weights + ".znn", download, a.get("user_agent"))
            if found is None:
                raise
            return _finish([_plain_name(found)], None)
        if hub and meta is None and files is not None and None in files:
            # Nothing found without raising (transformers 4.x with local_files_only).
            found = _from_hub(os.fspath(name), weights + ".znn", download, a.get("user_agent"))
            if found is not None:
                return _finish([_plain_name(found)], None)
        index_name = add_variant(_WEIGHTS + ".index.json", a.get("variant"))
        return _finish(files, meta, index_name)

    resolve.__wrapped__ = original  # type: ignore[attr-defined]
    return resolve


def _finish(files: Optional[List[str]], meta: Optional[Dict[str, Any]],
            index_name: Optional[str] = None) -> Any:
    """Archive names -> plain names, for the rest of transformers (which opens files
    named ``*.safetensors`` with ``safe_open``). With ``replace_local_file``, the archives
    are restored to plain shards and the sharded checkpoint's index, ``index_name`` next to
    them, gets their plain names back: the folder becomes the uncompressed one."""
    if files is None:
        return files, meta
    files = [_plain_name(f) if isinstance(f, str) else f for f in files]
    if meta is not None and isinstance(meta.get("weight_map"), dict):
        meta = dict(meta)
        meta["weight_map"] = {k: _plain_name(v) if isinstance(v, str) else v
                              for k, v in meta["weight_map"].items()}
    if _replace_local_file:
        for f in files:
            if isinstance(f, str):
                _restore_beside(f)
        if meta is not None and index_name and files and isinstance(files[0], str):
            _plain_index(os.path.join(os.path.dirname(files[0]), index_name))
    return files, meta


def _plain_index(path: str) -> None:
    """The index at ``path`` rewritten in place to name plain shards (when it names
    archives); a symbolic link (a Hub snapshot's) is replaced by the rewritten file."""
    from ._model_dir import _write_bytes, rewrite_index

    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError:
        return
    new, changed = rewrite_index(text, False)
    if changed:
        _write_bytes(path, new, None)


def _from_hub(repo: str, filename: str, download: Dict[str, Any], user_agent: Any) -> Optional[str]:
    """``filename`` of the Hub repository ``repo`` through transformers' own cache
    (downloaded if needed and allowed), or None."""
    try:
        from transformers.utils.hub import cached_file
    except ImportError:
        return None
    kwargs = {k: v for k, v in download.items() if k in _DOWNLOAD_KEYS and v is not None}
    if user_agent is not None:
        kwargs["user_agent"] = user_agent
    try:
        return cached_file(repo, filename, _raise_exceptions_for_gated_repo=False,
                           _raise_exceptions_for_missing_entries=False,
                           _raise_exceptions_for_connection_errors=False, **kwargs)
    except (OSError, ValueError):
        return None


# -- patching -----------------------------------------------------------------------------------
_RESOLVER_PARAMS = ("pretrained_model_name_or_path", "variant", "gguf_file", "use_safetensors")
_SAFE_OPEN_MODULES = ("transformers.modeling_layers", "transformers.integrations.accelerate",
                      "transformers.quantizers.quantizer_torchao")


def _unsupported(version: str, why: str) -> TransformersNotSupportedError:
    return TransformersNotSupportedError(
        f"zipnn cannot patch transformers {version}: {why}. zipnn.zipnn_hf() works with the "
        "loading code of recent transformers releases (tested: 4.57 and 5.x); with this one, "
        "load compressed weights with zipnn.safetensors.load_file() and "
        "model.load_state_dict(), or restore the folder with zipnn.decompress_model_dir()")


def is_patched() -> bool:
    """Whether :func:`patch_transformers` is in effect."""
    return bool(_patches)


def patch_transformers(replace_local_file: bool = False, *,
                       max_tensor_size: Optional[int] = None) -> None:
    """Makes ``transformers``' ``from_pretrained`` load compressed model folders (see the
    module's documentation for what is patched). ``replace_local_file=True`` (as in the
    reference package): each archive found when a model is loaded is restored to its
    plain ``X.safetensors`` next to it and removed, and a sharded checkpoint's index gets
    the plain names back, so later loads need neither zipnn nor decoding.
    ``max_tensor_size``: refuse a tensor larger than this many bytes before allocating it
    (:class:`zipnn.LimitExceededError`); by default none is refused, as the model being
    loaded is trusted as far as its size goes (each tensor is still checked against its
    header entry, and a frame declaring far more than its length against its checksums,
    before anything is allocated). Raises ImportError without ``transformers`` and
    :class:`TransformersNotSupportedError` for a version it cannot patch."""
    global _replace_local_file, _max_tensor_size
    _replace_local_file = bool(replace_local_file)
    _max_tensor_size = _NO_LIMIT if max_tensor_size is None else int(max_tensor_size)
    if _patches:
        return
    try:
        import transformers
        from transformers import modeling_utils as mu
    except ImportError as e:
        raise ImportError(
            "zipnn_hf() needs transformers (pip install transformers)") from e
    version = getattr(transformers, "__version__", "?")
    resolver = getattr(mu, "_get_resolved_checkpoint_files", None)
    if not callable(resolver):
        raise _unsupported(version, "transformers.modeling_utils has no "
                                    "_get_resolved_checkpoint_files")
    try:
        params = inspect.signature(resolver).parameters
    except (TypeError, ValueError):
        params = {}
    missing = [p for p in _RESOLVER_PARAMS if p not in params]
    if missing:
        raise _unsupported(version, "_get_resolved_checkpoint_files has no parameter "
                                    + ", ".join(missing))
    if not callable(getattr(mu, "safe_open", None)):
        raise _unsupported(version, "transformers.modeling_utils does not use safe_open")
    add_variant = getattr(mu, "_add_variant", None)
    if not callable(add_variant):
        def add_variant(name: str, variant: Optional[str] = None) -> str:
            if variant is None:
                return name
            head, tail = name.rsplit(".", 1)
            return f"{head}.{variant}.{tail}"

    todo: List[Tuple[Any, str, Any]] = [
        (mu, "_get_resolved_checkpoint_files", _make_resolver(resolver, add_variant)),
        (mu, "safe_open", _make_safe_open(mu.safe_open)),
    ]
    if callable(getattr(mu, "_is_on_hf_mount", None)):
        todo.append((mu, "_is_on_hf_mount", _make_is_on_hf_mount(mu._is_on_hf_mount)))
    import importlib

    for modname in _SAFE_OPEN_MODULES:
        try:
            mod = importlib.import_module(modname)
        except Exception:  # optional integrations may fail to import for their own reasons
            continue
        if callable(getattr(mod, "safe_open", None)):
            todo.append((mod, "safe_open", _make_safe_open(mod.safe_open)))
    for mod, attr, new in todo:
        _patches.append((mod, attr, getattr(mod, attr), new))
        setattr(mod, attr, new)


def unpatch_transformers() -> None:
    """Undoes :func:`patch_transformers`: every patched attribute gets its original back
    (one that something else replaced since is left as it is). Does nothing when not
    patched."""
    global _replace_local_file, _max_tensor_size
    while _patches:
        mod, attr, original, new = _patches.pop()
        if getattr(mod, attr, None) is new:
            setattr(mod, attr, original)
    _replace_local_file = False
    _max_tensor_size = _NO_LIMIT


@contextmanager
def transformers_patched(replace_local_file: bool = False, *,
                         max_tensor_size: Optional[int] = None) -> Iterator[None]:
    """``with transformers_patched(): model = AutoModel.from_pretrained(folder)``: the
    patch of :func:`patch_transformers` for the block only (left in place when it was
    already applied before the block)."""
    was = is_patched()
    patch_transformers(replace_local_file, max_tensor_size=max_tensor_size)
    try:
        yield
    finally:
        if not was:
            unpatch_transformers()


def zipnn_hf(replace_local_file: bool = False, *, max_tensor_size: Optional[int] = None) -> None:
    """The reference package's name for :func:`patch_transformers`: call it once, then
    ``from_pretrained`` loads folders of ``X.safetensors.znn`` archives."""
    patch_transformers(replace_local_file, max_tensor_size=max_tensor_size)


__all__ = ["zipnn_hf", "patch_transformers", "unpatch_transformers", "transformers_patched",
           "is_patched", "archive_path", "TransformersNotSupportedError"]
