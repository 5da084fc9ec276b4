"""`make bench`: the coin trainer against a notebook-style implementation, side by side in one
run, and the default profile's figures (issue 15). Writes metrics/bench/coin.json.

Reference config (the notebook's): 8 layers, d 64, 8 heads, ff 256, dropout 0.1, batch 64,
lr 1e-4, M = 20 000, one thread. Both sides time whole epochs (train pass + validation pass),
one epoch of each in turn; the median of --epochs epochs is quoted, after one untimed warm-up
epoch each. The default profile (params.yaml: dropout 0, collapsed batches) is timed alone,
with its peak memory.
Detector scoring: embeddings/s of the default 64-d detector's predict.
Usage: .venv/bin/python benchmarks/coin_throughput.py [--epochs 3] [--only-n 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from notebook_coin import NotebookRun  # noqa: E402

from deltahall.coin.config import CoinModelConfig, CoinTrainConfig  # noqa: E402
from deltahall.coin.data import generate_coin_data, split_train_val  # noqa: E402
from deltahall.coin.train import train_coin_model  # noqa: E402
from deltahall.config import load_params  # noqa: E402

REFERENCE = dict(d_model=64, n_heads=8, n_layers=8, ff_dim=256, dropout=0.1, batch_size=64, lr=1e-4)
OUT = Path("metrics/bench/coin.json")


def deltahall_epochs(
    train, val, n_coins, model_cfg, train_cfg, eval_cfg, epochs, between=None
) -> list[float]:
    """Wall seconds of each epoch of deltahall's trainer (its own epoch clock, which stops
    before `between(epoch, metrics)` runs)."""
    cfg = train_cfg.model_copy(update={"epochs": epochs + 1})
    result = train_coin_model(train, val, n_coins, model_cfg, cfg, eval_cfg, 0, between)
    return [row["time/epoch_s"] for row in result.history[1:]]  # first epoch: warm-up


def side_by_side(train, val, n_coins, model_cfg, train_cfg, eval_cfg, epochs) -> tuple:
    """(deltahall's, the notebook's) epoch seconds, one epoch of each in turn: a drift of
    the machine's speed (seen here: ±20 % within minutes) reaches both sides alike. The
    sides share torch's global generator, so neither trains its standalone numbers: timing
    only."""
    notebook = NotebookRun(train, val, n_coins, REFERENCE)
    theirs: list[float] = []
    ours = deltahall_epochs(
        train,
        val,
        n_coins,
        model_cfg,
        train_cfg,
        eval_cfg,
        epochs,
        lambda epoch, metrics: theirs.append(notebook.epoch()),
    )
    return ours, theirs[1:]


def reference_configs(params) -> tuple[CoinModelConfig, CoinTrainConfig]:
    model = CoinModelConfig(**{k: REFERENCE[k] for k in CoinModelConfig.model_fields})
    train = params.coin.train.model_copy(
        update={"batch_size": 64, "lr": 1e-4, "torch_threads": 1, "collapse_duplicates": False}
    )
    return model, train


def detector_rate(params, n: int = 200_000) -> float:
    from deltahall.detector.fit import fit_detector
    from deltahall.detector.stage import fit_settings

    rng = np.random.default_rng(0)
    dim = params.clip.embed_dim
    fit = np.concatenate([rng.normal(0, 1, (1500, dim)), rng.normal(0.5, 1, (1500, dim))])
    labels = np.repeat([0, 1], 1500)
    detector, _ = fit_detector(fit, labels, ["a", "b"], fit_settings(params), seed=0)
    batch = rng.normal(0.2, 1, (n, dim))
    detector.predict(batch[:1000])
    times = []
    for _ in range(3):
        started = time.perf_counter()
        detector.predict(batch)
        times.append(time.perf_counter() - started)
    return n / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per side and N (median)")
    ap.add_argument("--only-n", type=int, action="append", help="N to time (default 2, 3, 5)")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    params = load_params(args.params)
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    print(
        f"# torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} cpus, 1 thread, "
        f"load {load:.2f}; medians of {args.epochs} epochs, M = 20 000"
    )
    ref_model, ref_train = reference_configs(params)
    report = {
        "machine": {"cpus": os.cpu_count(), "load_1min": load},
        "reference": {},
        "default": {},
    }
    for n in args.only_n or [2, 3, 5]:
        train, val = split_train_val(generate_coin_data(n, 20_000, seed=0), 0.2)
        ours, theirs = side_by_side(
            train, val, 2 * n, ref_model, ref_train, params.coin.eval, args.epochs
        )
        mine, other = statistics.median(ours), statistics.median(theirs)
        report["reference"][str(n)] = {
            "deltahall_s": mine,
            "notebook_s": other,
            "ratio": other / mine,
        }
        print(
            f"coin N={n} reference-config: {mine:.2f} s/epoch, notebook-style: {other:.2f} "
            f"s/epoch, ratio {other / mine:.2f}",
            flush=True,
        )
        cfg = params.coin
        default = deltahall_epochs(train, val, 2 * n, cfg.model, cfg.train, cfg.eval, args.epochs)
        plain_train = cfg.train.model_copy(update={"collapse_duplicates": False})
        plain = deltahall_epochs(train, val, 2 * n, cfg.model, plain_train, cfg.eval, args.epochs)
        epoch, plain_epoch = statistics.median(default), statistics.median(plain)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report["default"][str(n)] = {
            "s_per_epoch": epoch,
            "plain_loop_s_per_epoch": plain_epoch,
            "examples_per_s": len(train) / epoch,
            "peak_rss_mb": peak_mb,
        }
        print(
            f"coin N={n} default profile: {epoch:.2f} s/epoch ({plain_epoch:.2f} with the plain "
            f"loop, x{plain_epoch / epoch:.1f}), {len(train) / epoch:,.0f} examples/s "
            f"(train + validation), peak memory {peak_mb:.0f} MB",
            flush=True,
        )
    rate = detector_rate(params)
    report["detector_embeddings_per_s"] = rate
    print(f"detector scoring ({params.clip.embed_dim}-d default): {rate:,.0f} embeddings/s")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"-> {OUT}")


if __name__ == "__main__":
    main()
