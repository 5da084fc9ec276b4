"""Coin-trainer throughput at the paper's config (8 layers, d_model 64, ff 256) on this CPU.

Prints, per N, training examples/second and seconds per epoch (train pass + exact scoring of
the validation set), for the batch size and thread count in params.yaml.
Usage: .venv/bin/python benchmarks/coin_throughput.py [--epochs 2] [--examples 20000]
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from deltahall.coin.data import generate_coin_data, split_train_val
from deltahall.coin.metrics import score_estimates, state_pmfs
from deltahall.coin.model import CoinTransformer, count_parameters
from deltahall.coin.train import predict, train_one_epoch
from deltahall.config import CoinModelConfig, load_params


def bench(n_choose: int, examples: int, epochs: int, params) -> dict[str, float]:
    cfg = params.coin
    train, val = split_train_val(generate_coin_data(n_choose, examples, seed=0), cfg.val_fraction)
    torch.set_num_threads(cfg.train.torch_threads)
    torch.manual_seed(0)
    model = CoinTransformer(2 * n_choose, CoinModelConfig())  # the paper's architecture
    optim = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    gen = torch.Generator().manual_seed(0)
    pmfs = state_pmfs(val.state_probs)
    train_s, eval_s = [], []
    for _ in range(epochs):
        t0 = time.perf_counter()
        train_one_epoch(model, optim, train, cfg.train.batch_size, gen)
        t1 = time.perf_counter()
        score_estimates(predict(model, val.coin_ids), val.heads, pmfs, "ceil", 0.25)
        train_s.append(t1 - t0)
        eval_s.append(time.perf_counter() - t1)
    best_train = min(train_s)
    return {"params": count_parameters(model), "n_train": len(train),
            "examples_per_s": len(train) / best_train, "train_s": best_train,
            "eval_s": min(eval_s), "epoch_s": best_train + min(eval_s)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs per N (best is reported)")
    ap.add_argument("--examples", type=int, default=20_000, help="M: examples per dataset")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    params = load_params(args.params)
    print(f"# coin trainer, paper config; torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus, threads {params.coin.train.torch_threads}, "
          f"batch {params.coin.train.batch_size}, M {args.examples}")
    print(f"{'N':>2} {'params':>8} {'n_train':>8} {'examples/s':>11} {'train s':>8} {'eval s':>7} {'epoch s':>8}")
    for n in (2, 3, 5):
        r = bench(n, args.examples, args.epochs, params)
        print(f"{n:>2} {r['params']:>8} {r['n_train']:>8} {r['examples_per_s']:>11.0f} "
              f"{r['train_s']:>8.2f} {r['eval_s']:>7.2f} {r['epoch_s']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
