"""The coin DVC stages: `deltahall coin-data` and `deltahall coin-train`.

Read the params section, call the pure core, write files (DVC outputs), mirror to MLflow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deltahall import paths
from deltahall.coin.data import (
    CoinData,
    Variant,
    generate_coin_data,
    load_coin_data,
    regime_table,
    save_coin_data,
    split_train_val,
)
from deltahall.coin.keys import EPOCH_KEYS, EPOCH_TIME, SHOWN, chart_key, ref_key
from deltahall.coin.metrics import population_reference
from deltahall.coin.model import count_parameters
from deltahall.coin.sensitivity import reference_rows, trained_rows
from deltahall.coin.train import predict, train_coin_model
from deltahall.config import ConfigError, Params
from deltahall.epochs import EpochLogger, HistoryCsv, history_part, join_histories
from deltahall.metrics_file import across_seeds, write_metrics
from deltahall.parallel import run_jobs
from deltahall.seeding import derive_seed
from deltahall.tracking import prepare, start_run

EXPERIMENTS = {"observed": "coin", "hidden": "coin_hidden"}
SENSITIVITY_ROW = ["seed", "estimator", "rounding", "delta", "rate"]


def resolve_grid(
    params: Params, variant: Variant, n_choose: int | None
) -> tuple[int, list[int], float]:
    """(N, seeds, shrink) for one stage call; the hidden variant's N comes from params."""
    if variant == "hidden":
        hidden = params.coin_hidden
        if n_choose not in (None, hidden.n_choose):
            raise ConfigError(
                f"--n-choose {n_choose} disagrees with params coin_hidden.n_choose "
                f"= {hidden.n_choose}; omit it for the hidden variant"
            )
        return hidden.n_choose, list(hidden.seeds), hidden.shrink
    if n_choose is None or not 1 <= n_choose <= 12:
        raise ConfigError(
            f"--n-choose must be given and in 1..12 for the observed variant (got {n_choose})"
        )
    return n_choose, list(params.coin.seeds), 1.0


def run_coin_data(params: Params, variant: Variant, n_choose: int | None) -> list[Path]:
    """One dataset of M examples per seed (the paper's 5 rounds resample the data too)."""
    n_choose, seeds, shrink = resolve_grid(params, variant, n_choose)
    written = []
    for seed in seeds:
        data = generate_coin_data(
            n_choose,
            params.coin.n_examples,
            derive_seed("coin-data", variant, n_choose, seed),
            variant,
            shrink,
        )
        save_coin_data(data, paths.coin_data(variant, n_choose, seed))
        written.append(paths.coin_data(variant, n_choose, seed))
        print(
            f"[coin-data {variant} N={n_choose}] seed {seed}: {len(data)} examples "
            f"-> {written[-1]}",
            flush=True,
        )
    return written


def _summarise(finals: dict[int, dict[str, float]], reference: dict[str, float]) -> tuple:
    """(headline, per seed): the headline has the mean over seeds at the top level, their
    std, and the population reference."""
    keys = [k for k in EPOCH_KEYS if k != EPOCH_TIME]
    per_seed = {s: {k: finals[s][k] for k in keys} for s in finals}
    spread = across_seeds(per_seed)
    refs = {ref_key(k): v for k, v in reference.items()}
    return {**spread["mean"], "std": spread["std"], **refs}, per_seed


def run_coin_train(params: Params, variant: Variant, n_choose: int | None) -> dict:
    """Train one model per seed; per-epoch metrics to a CSV (flushed each epoch) and MLflow."""
    n_choose, seeds, shrink = resolve_grid(params, variant, n_choose)
    cfg = params.coin
    table, weights = regime_table(n_choose, variant, shrink)
    # Every seed's dataset is read and checked before anything is trained or written.
    datasets = {
        seed: split_train_val(
            load_coin_data(paths.coin_data(variant, n_choose, seed), table.shape[1]),
            cfg.val_fraction,
        )
        for seed in seeds
    }
    reference = population_reference(table, weights, n_choose, cfg.eval.rounding, cfg.eval.delta)
    ref_metrics = {ref_key(k): v for k, v in reference.items()}
    columns = ["seed", "epoch", *EPOCH_KEYS, *ref_metrics]
    curves = reference_rows(table, weights, n_choose)
    jobs = [(params, variant, n_choose, seed, shrink, ref_metrics, columns) for seed in seeds]
    prepare(params, EXPERIMENTS[variant])
    results = run_jobs(_train_seed_job, jobs, cfg.train.processes)
    finals = {seed: final for seed, (final, _) in zip(seeds, results)}
    join_histories(paths.coin_history(variant, n_choose), seeds)
    for seed, (_, estimates) in zip(seeds, results):
        curves += trained_rows(estimates, datasets[seed][1], seed)
    with HistoryCsv(paths.coin_sensitivity(variant, n_choose), SENSITIVITY_ROW) as out:
        for row in curves:
            out.write(row)
    summary, per_seed = _summarise(finals, reference)
    write_metrics(paths.coin_train_metrics(variant, n_choose), summary, per_seed)
    return summary


def _train_seed_job(params, variant, n_choose, seed, shrink, ref_metrics, columns):
    """One seed in a worker process: its own dataset, MLflow run and history part file (kept,
    every finished epoch in it, if the stage dies)."""
    data = split_train_val(
        load_coin_data(paths.coin_data(variant, n_choose, seed), 2 * n_choose),
        params.coin.val_fraction,
    )
    with HistoryCsv(history_part(paths.coin_history(variant, n_choose), seed), columns) as history:
        return _train_seed(params, variant, n_choose, seed, shrink, data, ref_metrics, history)


def _train_seed(
    params: Params,
    variant: Variant,
    n_choose: int,
    seed: int,
    shrink: float,
    data: tuple[CoinData, CoinData],
    ref_metrics: dict[str, float],
    history: HistoryCsv,
) -> tuple[dict[str, float], np.ndarray]:
    """Train one seed; returns its final epoch's metrics and its final validation estimates."""
    cfg = params.coin
    train, val = data
    run_params = {
        "variant": variant,
        "n_choose": n_choose,
        "seed": seed,
        "data_seed": derive_seed("coin-data", variant, n_choose, seed),
        "n_examples": cfg.n_examples,
        "n_train": len(train),
        "n_val": len(val),
        "val_fraction": cfg.val_fraction,
        "shrink": shrink,
        "model": cfg.model.model_dump(),
        "train": cfg.train.model_dump(),
        "eval": cfg.eval.model_dump(),
    }
    with start_run(
        params,
        EXPERIMENTS[variant],
        f"{variant}-n{n_choose}-seed{seed}",
        run_params,
        {"deltahall.stage": "coin_train", "variant": variant},
        inputs=[paths.coin_data(variant, n_choose, seed).parent],
    ) as run:
        run.expect_model()  # every epoch's metrics link to the run's model
        log = EpochLogger(
            f"[coin-train {variant} N={n_choose} seed={seed}]",
            cfg.train.epochs,
            SHOWN,
            run,
            history,
            {"seed": seed},
            ref_metrics,
            chart_name=chart_key,
        )
        result = train_coin_model(
            train, val, 2 * n_choose, cfg.model, cfg.train, cfg.eval, seed, log
        )
        model_file = paths.coin_model(variant, n_choose, seed)
        model_file.parent.mkdir(parents=True, exist_ok=True)
        torch.save(result.model.state_dict(), model_file)
        run.log_params({"n_parameters": count_parameters(result.model)})
        run.set_tags({"model_file": str(model_file)})
        example = np.arange(n_choose, dtype=np.int64)[None]  # one set of N coin labels
        run.log_model(result.model.eval(), example=example)
    return result.history[-1], predict(result.model, val.coin_ids)
