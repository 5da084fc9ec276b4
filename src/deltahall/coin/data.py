"""Coin-flip aggregation data (paper §6.1), numpy only.

2N coins; coin i (0-based) lands heads with probability (i+1)/(2N). An example picks N distinct
coins uniformly at random, flips each once, and its target is the number of heads. The input is
the N coin labels as N tokens (the reference notebook packed them into one token; we don't).

Latent states: in the `observed` variant the chosen coins are the only cause (one state per
input). In the `hidden` variant each example also draws one of two coin regimes that the input
does not reveal, so P(K | coins) is a two-mode mixture and its mean falls between the modes.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from deltahall.theory import coin_head_probs

Variant = Literal["observed", "hidden"]


def regime_table(
    n_choose: int, variant: Variant, shrink: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """(S, 2N) head probability of every coin under each latent state, and (S,) state priors.

    hidden: regime 0 scales every p_i down (p_i * shrink), regime 1 pushes it up
    (1 - (1 - p_i) * shrink); equal priors, so totals cluster near 0 or near N.
    """
    base = coin_head_probs(n_choose)
    if variant == "observed":
        return base[None, :], np.ones(1)
    if variant == "hidden":
        return np.stack([base * shrink, 1.0 - (1.0 - base) * shrink]), np.full(2, 0.5)
    raise ValueError(f"unknown coin variant {variant!r}; expected 'observed' or 'hidden'")


@dataclass(frozen=True)
class CoinData:
    coin_ids: np.ndarray  # (M, N) int64 labels of the chosen coins, in draw order
    heads: np.ndarray  # (M,) int64 number of heads observed
    state: np.ndarray  # (M,) int64 latent state drawn (always 0 when observed)
    state_probs: np.ndarray  # (M, S, N) head probability of each chosen coin under each state
    state_weights: np.ndarray  # (S,) prior of each latent state

    def __len__(self) -> int:
        return int(self.heads.shape[0])

    @property
    def n_choose(self) -> int:
        return int(self.coin_ids.shape[1])

    def subset(self, index: np.ndarray | slice) -> CoinData:
        return CoinData(
            self.coin_ids[index],
            self.heads[index],
            self.state[index],
            self.state_probs[index],
            self.state_weights,
        )


def generate_coin_data(
    n_choose: int, n_examples: int, seed: int, variant: Variant = "observed", shrink: float = 0.2
) -> CoinData:
    if n_choose < 1 or n_examples < 1:
        raise ValueError(f"need n_choose >= 1 and n_examples >= 1 (got {n_choose}, {n_examples})")
    rng = np.random.default_rng(seed)
    table, weights = regime_table(n_choose, variant, shrink)
    n_coins = table.shape[1]
    # A uniform random N-subset in random order: the first N of a random permutation.
    coin_ids = np.argsort(rng.random((n_examples, n_coins)), axis=1)[:, :n_choose]
    state = rng.choice(len(weights), size=n_examples, p=weights)
    state_probs = np.transpose(table[:, coin_ids], (1, 0, 2))  # (M, S, N)
    drawn = state_probs[np.arange(n_examples), state]  # (M, N)
    heads = (rng.random((n_examples, n_choose)) < drawn).sum(axis=1)
    return CoinData(
        coin_ids.astype(np.int64),
        heads.astype(np.int64),
        state.astype(np.int64),
        state_probs,
        weights,
    )


def split_train_val(data: CoinData, val_fraction: float) -> tuple[CoinData, CoinData]:
    """Examples are already in random order, so the tail is a uniform validation sample."""
    n_val = max(1, int(round(len(data) * val_fraction)))
    if n_val >= len(data):
        raise ValueError(f"val_fraction {val_fraction} leaves no training examples of {len(data)}")
    return data.subset(slice(0, len(data) - n_val)), data.subset(slice(len(data) - n_val, None))


def save_coin_data(data: CoinData, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        coin_ids=data.coin_ids,
        heads=data.heads,
        state=data.state,
        state_probs=data.state_probs,
        state_weights=data.state_weights,
    )
    tmp.replace(path)  # atomic: a crash never leaves a half-written dataset behind


COIN_ARRAYS = ("coin_ids", "heads", "state", "state_probs", "state_weights")


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            found = {k: f[k] for k in COIN_ARRAYS if k in f.files}
    except (OSError, EOFError, ValueError, TypeError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(
            f"{path}: not a readable coin dataset (.npz): {err}; rerun `deltahall coin-data`"
        ) from None
    missing = [k for k in COIN_ARRAYS if k not in found]
    if missing:
        raise ValueError(
            f"{path}: not a coin dataset: missing array(s) {', '.join(missing)}; "
            f"rerun `deltahall coin-data`"
        )
    return found


def check_coin_data(data: CoinData, n_coins: int, path: Path) -> CoinData:
    """Shapes agree and every value is in range; errors name the file, array and first row."""
    m = len(data.heads)
    if data.coin_ids.ndim != 2 or data.state_probs.ndim != 3 or data.state_weights.ndim != 1:
        raise ValueError(
            f"{path}: coin_ids, state_probs, state_weights must be 2-, 3-, 1-d "
            f"(got {data.coin_ids.ndim}, {data.state_probs.ndim}, "
            f"{data.state_weights.ndim})"
        )
    lengths = {k: len(getattr(data, k)) for k in ("coin_ids", "heads", "state", "state_probs")}
    if len(set(lengths.values())) != 1 or m == 0:
        raise ValueError(f"{path}: arrays disagree on the number of examples: {lengths}")
    for name, values, high in (
        ("coin_ids", data.coin_ids, n_coins - 1),
        ("heads", data.heads, data.n_choose),
        ("state", data.state, len(data.state_weights) - 1),
    ):
        bad = np.flatnonzero(((values < 0) | (values > high)).reshape(m, -1).any(axis=1))
        if bad.size:
            raise ValueError(
                f"{path}: row {bad[0]}: {name} must lie in 0..{high} "
                f"(got {values[bad[0]].tolist()})"
            )
    return data


def load_coin_data(path: Path, n_coins: int) -> CoinData:
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: coin dataset missing; run `deltahall coin-data` first")
    arrays = _read_arrays(Path(path))
    return check_coin_data(CoinData(**arrays), n_coins, Path(path))
