"""Seeds are set here and nowhere else; every stage logs the seeds it used."""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from labelled parts, e.g. derive_seed("coin-data", n, seed).

    Hash-based so that adding a seed or an N never shifts the streams of the others.
    """
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def seed_everything(seed: int) -> None:
    """Python, NumPy's legacy global state and torch (if installed) from one seed."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # theory-only installs have no torch
        return
    torch.manual_seed(seed)
