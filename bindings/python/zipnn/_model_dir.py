"""Model folders: compress every safetensors shard of a folder, keep the rest.

A model folder (``save_pretrained``'s output, a Hugging Face snapshot, a diffusers pipeline)
holds ``config.json``, tokenizer files, one or several ``*.safetensors`` shards and, when
sharded, an index ``model.safetensors.index.json`` naming the shard of every tensor.

:func:`compress_model_dir` turns each ``X.safetensors`` into the archive
``X.safetensors.znn`` (docs/FORMAT.md section 12) and leaves every other file as it is;
:func:`decompress_model_dir` does the reverse, byte for byte. The same rules as
``zipnn compress -r`` / ``zipnn decompress -r`` on a model folder (docs/CLI.md, "Model
folders"):

- with ``dst`` the output is a complete folder: the archives (or restored shards), the
  other files copied unchanged, and the index with its shard names rewritten
  (``X.safetensors`` <-> ``X.safetensors.znn``; only those JSON strings change, so the
  round trip gives the index back byte for byte);
- in place (``dst=None``), compressing writes each archive next to its shard and leaves
  the index naming the plain shards, which are still there (remove them to keep only the
  compressed folder); decompressing writes each shard next to its archive and rewrites an
  index naming archives back to the plain names.

Existing outputs are refused (:class:`FileExistsError`, before anything is written)
unless ``force=True``. Symbolic links to files are followed, to directories not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any, Dict, List, Optional, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]

WEIGHTS = ".safetensors"
COMPRESSED_WEIGHTS = ".safetensors.znn"
INDEX = ".safetensors.index.json"


def is_plain_weights(name: str) -> bool:
    base = os.path.basename(name)
    return len(base) > len(WEIGHTS) and base.endswith(WEIGHTS)


def is_compressed_weights(name: str) -> bool:
    base = os.path.basename(name)
    return len(base) > len(COMPRESSED_WEIGHTS) and base.endswith(COMPRESSED_WEIGHTS)


def is_index(name: str) -> bool:
    base = os.path.basename(name)
    return len(base) > len(INDEX) and base.endswith(INDEX)


class IndexRewriteError(ValueError):
    """An index file that is not valid, or whose shard names cannot be rewritten so that
    the reverse rewrite gives it back byte for byte."""


def _rewrite_once(text: bytes, to_compressed: bool) -> Tuple[bytes, int]:
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise IndexRewriteError(f"not a valid index file: {e}") from None
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict):
        raise IndexRewriteError('not a valid index file: no "weight_map" object')
    names = set()
    for v in weight_map.values():
        if not isinstance(v, str):
            raise IndexRewriteError('not a valid index file: a "weight_map" value is not a string')
        if (is_plain_weights(v) if to_compressed else is_compressed_weights(v)):
            names.add(v)
    out = bytearray()
    i = last = 0
    n = len(text)
    while i < n:
        if text[i] != 0x22:  # '"': outside strings JSON has no quotes
            i += 1
            continue
        start = i
        i += 1
        while i < n and text[i] != 0x22:
            i += 2 if text[i] == 0x5C else 1  # '\\' escapes the next byte
        end = min(i, n - 1)
        i = end + 1
        j = i
        while j < n and text[j] in b" \t\r\n":
            j += 1
        if j < n and text[j] == 0x3A:  # ':' : an object key
            continue
        value = json.loads(text[start:end + 1])
        if value not in names:
            continue
        if to_compressed:
            out += text[last:end]
            out += b".znn"
        else:
            raw = text[start + 1:end]
            if not raw.endswith(b".znn"):
                raise IndexRewriteError(f"the shard name {value!r} is escaped; cannot rewrite it")
            out += text[last:start + 1]
            out += raw[:-4]
        last = end
    out += text[last:]
    return bytes(out), len(names)


def rewrite_index(text: bytes, to_compressed: bool) -> Tuple[bytes, int]:
    """The index file ``text`` with its shard names rewritten, and how many distinct names
    changed: every JSON string in a value position whose value is one of the
    ``weight_map``'s file names ending in ``.safetensors`` gains ``.znn``
    (``to_compressed``), or one ending in ``.safetensors.znn`` loses it; every other byte is
    kept. A change that the reverse rewrite would not undo byte for byte is refused
    (:class:`IndexRewriteError`)."""
    out, changed = _rewrite_once(text, to_compressed)
    if changed and _rewrite_once(out, not to_compressed)[0] != text:
        raise IndexRewriteError(
            "its shard names cannot be rewritten reversibly (the index names both "
            "X.safetensors and X.safetensors.znn files)")
    return out, changed


_TEMP = re.compile(r"\.tmp-\d+$")  # our temporary outputs (renamed into place when complete)


def _walk(root: str) -> List[str]:
    """Regular files under ``root`` (relative paths, sorted); links to files followed, to
    directories not; our own temporary outputs skipped."""
    found: List[str] = []

    def visit(rel: str) -> None:
        here = os.path.join(root, rel) if rel else root
        with os.scandir(here) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            r = os.path.join(rel, e.name) if rel else e.name
            if e.is_dir(follow_symlinks=False):
                visit(r)
            elif e.is_file() and not _TEMP.search(e.name):
                found.append(r)

    if not os.path.isdir(root):
        raise NotADirectoryError(f"{root!r} is not a directory")
    visit("")
    return found


def _write_bytes(path: str, data: bytes, mode_from: Optional[str]) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        if mode_from is not None:
            shutil.copymode(mode_from, tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _copy(src: str, dst: str) -> None:
    tmp = f"{dst}.tmp-{os.getpid()}"
    try:
        shutil.copyfile(src, tmp)
        shutil.copymode(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _plan(src: str, dst: Optional[str], compress: bool) -> List[Tuple[str, str, str]]:
    """(action, input, output) for every file: "weights", "index" or "copy"."""
    plan = []
    files = _walk(src)
    present = set(files)
    for rel in files:
        path = os.path.join(src, rel)
        out_root = dst if dst is not None else src
        if compress and is_plain_weights(rel):
            plan.append(("weights", path, os.path.join(out_root, rel + ".znn")))
        elif not compress and is_compressed_weights(rel):
            plan.append(("weights", path, os.path.join(out_root, rel[:-4])))
        elif (is_compressed_weights(rel) and rel[:-4] in present) if compress else \
                (is_plain_weights(rel) and rel + ".znn" in present):
            continue  # the other form of a shard (de)compressed here: not an input
        elif is_index(rel) and (dst is not None or not compress):
            plan.append(("index", path, os.path.join(out_root, rel)))
        elif dst is not None:
            plan.append(("copy", path, os.path.join(dst, rel)))
    return plan


def _run(src: PathLike, dst: Optional[PathLike], compress: bool, force: bool,
         work: Any) -> List[str]:
    src_s = os.fspath(src)
    dst_s = os.fspath(dst) if dst is not None else None
    if dst_s is not None and os.path.abspath(dst_s) == os.path.abspath(src_s):
        dst_s = None
    plan = _plan(src_s, dst_s, compress)
    if not force:
        for action, inp, out in plan:
            if out != inp and os.path.lexists(out):
                raise FileExistsError(f"{out!r} exists (pass force=True to overwrite)")
    # Index files are rewritten in memory first: a bad one fails before any output.
    indexes: Dict[str, bytes] = {}
    for action, inp, out in plan:
        if action == "index":
            with open(inp, "rb") as f:
                text = f.read()
            try:
                new, _ = rewrite_index(text, compress)
            except IndexRewriteError as e:
                raise IndexRewriteError(f"{inp}: {e}") from None
            if out != inp or new != text:
                indexes[inp] = new
    written: List[str] = []
    # Index files last: one is rewritten only once every shard it names has been written.
    for action, inp, out in sorted(plan, key=lambda p: p[0] == "index"):
        parent = os.path.dirname(out)
        if parent:
            os.makedirs(parent, exist_ok=True)
        if action == "weights":
            work(inp, out)
            shutil.copymode(inp, out)
        elif action == "copy":
            _copy(inp, out)
        elif inp in indexes:
            _write_bytes(out, indexes[inp], inp)
        else:
            continue
        written.append(out)
    return written


def compress_model_dir(src: PathLike, dst: Optional[PathLike] = None, *, force: bool = False,
                       **options: Any) -> List[str]:
    """Compresses every ``*.safetensors`` shard under the folder ``src`` into an archive
    ``*.safetensors.znn``: into the folder ``dst`` (created if missing; the other files
    copied unchanged, the index naming the archives), or next to each shard when ``dst`` is
    None. Options as :func:`zipnn.safetensors.compress_file` (``method``, ``level``,
    ``threads``, ...). Returns the paths written, in order."""
    from .safetensors import compress, compress_file

    compress(_EMPTY_SAFETENSORS, **options)  # a bad option fails here, before any output
    return _run(src, dst, True, force, lambda i, o: compress_file(i, o, **options))


#: A safetensors file with no tensors: 8-byte header length, then "{}" padded to 8 bytes.
_EMPTY_SAFETENSORS = (8).to_bytes(8, "little") + b"{}      "


def decompress_model_dir(src: PathLike, dst: Optional[PathLike] = None, *, force: bool = False,
                         threads: int = 0, max_size: Optional[int] = None) -> List[str]:
    """Restores every ``*.safetensors.znn`` archive under the folder ``src`` to its
    ``*.safetensors`` shard, byte for byte: into the folder ``dst`` (the other files copied
    unchanged, the index naming the plain shards again: the original folder), or next to
    each archive when ``dst`` is None (an index naming the archives is then rewritten to the
    plain names). ``max_size`` bounds each tensor as for :class:`zipnn.safetensors.Archive`
    opened from a file. Returns the paths written, in order."""
    from .safetensors import Archive

    def restore(i: str, o: str) -> None:
        with Archive(i, threads=threads, max_size=max_size) as a:
            a.restore_file(o)

    return _run(src, dst, False, force, restore)


__all__ = ["compress_model_dir", "decompress_model_dir", "rewrite_index", "IndexRewriteError"]
