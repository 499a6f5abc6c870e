#!/usr/bin/env python3
"""Writes the complete sample files of a Markdown document to a directory, so that tests
build the samples exactly as the documentation shows them.

    scripts/extract-samples.py DOC.md OUTDIR [NAME ...]

A sample is a fenced code block whose info string names a file after the language:

    ```cpp sample.cpp
    ...
    ```

(renderers use the first word for highlighting and ignore the rest). Every such block is
written to OUTDIR/<file name> and its name printed. With NAMEs, each of them must be among
the samples found (so that a renamed or deleted sample fails the test that builds it).
Blocks without a file name (fragments) are left alone.
"""

import re
import sys
from pathlib import Path

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")


def samples(text: str) -> dict:
    found = {}
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i].rstrip("\n"))
        if not m:
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info").split()
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(m.group("indent")):] if lines[i].startswith(m.group("indent")) else lines[i])
            i += 1
        i += 1  # closing fence
        if len(info) >= 2 and NAME.match(info[1]):
            if info[1] in found:
                raise SystemExit(f"extract-samples: two samples named {info[1]}")
            found[info[1]] = "".join(body)
    return found


def main(argv: list) -> int:
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    doc, out = Path(argv[1]), Path(argv[2])
    found = samples(doc.read_text(encoding="utf-8"))
    missing = [n for n in argv[3:] if n not in found]
    if missing or not found:
        print(f"extract-samples: {doc} has no sample named {' '.join(missing) or '(any)'}; "
              f"found: {' '.join(found) or 'none'}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for name, body in found.items():
        (out / name).write_text(body, encoding="utf-8")
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
