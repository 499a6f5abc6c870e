import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def repo_root() -> Path:
    env = os.environ.get("ZIPNN_REPO_ROOT")
    if env:
        return Path(env)
    return HERE.parent.parent.parent


@pytest.fixture(scope="session")
def root() -> Path:
    return repo_root()


@pytest.fixture(scope="session")
def header_text(root) -> str:
    path = root / "include" / "zipnn.h"
    if not path.is_file():
        pytest.skip(f"{path} not found (set ZIPNN_REPO_ROOT)")
    return path.read_text()


def bf16_like(n_elems: int, seed: int = 0) -> bytes:
    """Bytes that look like bf16 weights (normal(0, 0.02), top half of fp32)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    f = (rng.standard_normal(n_elems, dtype=np.float32) * 0.02).view(np.uint32)
    return (f >> 16).astype(np.uint16).tobytes()
