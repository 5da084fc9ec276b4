"""Stage `sweep_analysis`: does lower loss lower the δ-hallucination rate?

Per experiment, from the files the sweep stages exported: across trials, Spearman and Kendall
correlations between final loss and final rate with bootstrap CIs over trials; within runs,
the same correlations between epoch loss and epoch rate of every (trial, seed) run, averaged
with a bootstrap CI over runs; a verdict from each CI (rule: sweep.stats.verdict); the same
again with each other loss of the history (`other_losses`: QA reports val/loss beside its
training loss). Written to metrics/sweep/analysis.json, then logged to MLflow (experiment
`sweep_analysis`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deltahall import paths
from deltahall.config import Params
from deltahall.metrics_file import write_json
from deltahall.paths import sweep_history as history_path
from deltahall.paths import sweep_trials as trials_path
from deltahall.seeding import derive_seed
from deltahall.sweep import stats
from deltahall.sweep.trial import EXPERIMENTS, TRAIN_LOSS, VAL_LOSS
from deltahall.tracking import start_run

OUT = paths.SWEEP_METRICS / "analysis.json"
MIN_EPOCHS = 3  # a within-run correlation needs at least 3 epochs
# Reported beside the objective's loss wherever they differ from it: the paper's claim is about
# the training loss, and a held-out loss can move the other way (QA's val/loss rises).
ALSO_REPORTED = (TRAIN_LOSS, VAL_LOSS)


def _ci(est_low_high: tuple[float, float, float]) -> dict[str, float]:
    return dict(zip(("estimate", "low", "high"), est_low_high))


def across_trials(loss, rate, n_boot: int, level: float, seed: int) -> dict:
    return {
        m: _ci(stats.correlation_ci(loss, rate, m, n_boot, level, seed + i))
        for i, m in enumerate(stats.CORRELATIONS)
    }


def within_runs(
    curves: list[tuple[np.ndarray, np.ndarray]],
    n_boot: int,
    level: float,
    seed: int,
    clusters: list | None = None,
) -> dict:
    """Mean over runs of the association of epoch loss and epoch rate (a run whose rate never
    moves while its loss does counts as 0; n_rate_constant says how many did so). The CI
    resamples `clusters` (the trial of each run: its seeds share its knobs) whole; by default
    every run is its own cluster."""
    clusters = list(range(len(curves))) if clusters is None else list(clusters)
    long = [(c, loss, rate) for c, (loss, rate) in zip(clusters, curves) if len(loss) >= MIN_EPOCHS]
    out: dict = {
        "n_runs": len(long),
        "n_rate_constant": sum(int(np.ptp(r) == 0) for *_, r in long),
        "n_clusters": len({c for c, *_ in long}),
    }
    for i, name in enumerate(stats.CORRELATIONS):
        values = np.array([stats.association(loss, rate, name) for _, loss, rate in long])
        out[f"n_defined_{name}"] = int(np.isfinite(values).sum())
        out[name] = _ci(
            stats.cluster_mean_ci(values, [c for c, *_ in long], n_boot, level, seed + i)
        )
    return out


def analyse(
    loss,
    rate,
    curves,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    min_effect: float = 0.3,
    clusters: list | None = None,
) -> dict:
    """The whole analysis of one experiment (pure: arrays in, a JSON-ready dict out)."""
    across = across_trials(loss, rate, n_boot, level, seed)
    within = within_runs(curves, n_boot, level, seed + 10, clusters)
    sp, wsp = across["spearman"], within["spearman"]
    rate = np.asarray(rate, dtype=float)
    return {
        "n_trials": int(len(loss)),
        "across_trials": across,
        "within_runs": within,
        "rate_range": [float(rate.min()), float(rate.max())] if rate.size else [],
        "verdict": stats.verdict(sp["low"], sp["high"], min_effect),
        "verdict_within_runs": stats.verdict(wsp["low"], wsp["high"], min_effect),
        "rule": f"Spearman {level:.0%} CI above +{min_effect}: lowers; inside "
        f"(-{min_effect}, +{min_effect}) or below -{min_effect}: does not; else inconclusive",
    }


def load_experiment(
    experiment: str, replicate: int | None = None
) -> tuple[np.ndarray, np.ndarray, list, list, dict]:
    """(final losses, final rates) of the COMPLETE trials, the per-run epoch curves, the
    trial of each run, and {loss name: (final per trial, curves)} for each ALSO_REPORTED loss
    the history holds, of the study (or of its replicate seeded `replicate`)."""
    for path in (trials_path(experiment, replicate), history_path(experiment, replicate)):
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: missing; run `deltahall sweep --experiment {experiment}` first"
            )
    trials = pd.read_csv(trials_path(experiment, replicate))
    done = trials[trials["state"] == "COMPLETE"]
    history = pd.read_csv(history_path(experiment, replicate))
    history = history[history["trial"].isin(done["number"])].sort_values("epoch", kind="stable")
    runs = list(history.groupby(["trial", "seed"]))
    curves = [(g["loss"].to_numpy(float), g["rate"].to_numpy(float)) for _, g in runs]
    trials_of_runs = [int(trial) for (trial, _), _ in runs]
    others = {}
    for name in ALSO_REPORTED:
        column = history.get(name)
        if column is None or column.isna().any() or np.allclose(column, history["loss"]):
            continue
        other_curves = [(g[name].to_numpy(float), g["rate"].to_numpy(float)) for _, g in runs]
        last = history.groupby(["trial", "seed"])[name].last().groupby("trial").mean()
        others[name] = (last.reindex(done["number"]).to_numpy(float), other_curves)
    return (
        done["loss"].to_numpy(float),
        done["rate"].to_numpy(float),
        curves,
        trials_of_runs,
        others,
    )


def _beside(others: dict, rate, analysis_args: tuple, clusters: list) -> dict:
    """The same analysis on every other loss, headline figures only."""
    out = {}
    for name, (finals, curves) in others.items():
        a = analyse(finals, rate, curves, *analysis_args, clusters)
        out[name] = {
            k: a[k] for k in ("across_trials", "within_runs", "verdict", "verdict_within_runs")
        }
    return out


def _fmt(ci: dict) -> str:
    return f"{ci['estimate']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}]"


def run_sweep_analysis(params: Params) -> dict:
    cfg = params.sweep
    present = [e for e in EXPERIMENTS if trials_path(e).exists()]
    if not present:
        raise FileNotFoundError(
            f"no sweep results under {trials_path('*').parent.parent}; run "
            f"`deltahall sweep --experiment coin` (or `make sweep`) first"
        )
    results = {}
    for experiment in present:
        by_seed = {}
        for seed in [cfg.seed, *cfg.replicate_seeds]:
            loss, rate, curves, trials_of_runs, others = load_experiment(
                experiment, None if seed == cfg.seed else seed
            )
            args = (
                cfg.n_boot,
                cfg.ci_level,
                derive_seed("sweep-analysis", experiment, cfg.seed),
                cfg.min_effect,
            )
            by_seed[seed] = analyse(loss, rate, curves, *args, trials_of_runs)
            by_seed[seed]["other_losses"] = _beside(others, rate, args, trials_of_runs)
        r = results[experiment] = by_seed[cfg.seed]
        r["verdict_by_seed"] = {str(s): a["verdict"] for s, a in by_seed.items()}
        r["verdict_within_runs_by_seed"] = {
            str(s): a["verdict_within_runs"] for s, a in by_seed.items()
        }
        r["spearman_by_seed"] = {str(s): a["across_trials"]["spearman"] for s, a in by_seed.items()}
        r["verdict_stable"] = len(set(r["verdict_by_seed"].values())) == 1
        print(
            f"[sweep-analysis {experiment}] {r['n_trials']} trials, final rates "
            f"{r['rate_range'][0]:.3f}..{r['rate_range'][1]:.3f}: Spearman "
            f"{_fmt(r['across_trials']['spearman'])}, Kendall "
            f"{_fmt(r['across_trials']['kendall'])} -> {r['verdict']}; within runs "
            f"Spearman {_fmt(r['within_runs']['spearman'])} -> {r['verdict_within_runs']}; "
            f"by sweep seed {r['verdict_by_seed']} (stable: {r['verdict_stable']})",
            flush=True,
        )
        for name, other in r["other_losses"].items():
            print(
                f"[sweep-analysis {experiment}] with {name} as the loss: Spearman "
                f"{_fmt(other['across_trials']['spearman'])} -> {other['verdict']}; within "
                f"runs {_fmt(other['within_runs']['spearman'])} -> {other['verdict_within_runs']}",
                flush=True,
            )
    write_json(OUT, results)
    _track(params, results)
    return results


def _track(params: Params, results: dict) -> None:
    metrics, tags = {}, {"deltahall.stage": "sweep_analysis"}
    for exp, r in results.items():
        metrics[f"{exp}/n_trials"] = r["n_trials"]
        if r["rate_range"]:
            metrics[f"{exp}/rate_min"], metrics[f"{exp}/rate_max"] = r["rate_range"]
        for scope in ("across_trials", "within_runs"):
            for method in stats.CORRELATIONS:
                for key, value in r[scope][method].items():
                    if np.isfinite(value):
                        suffix = "" if key == "estimate" else f"_{key}"
                        metrics[f"{exp}/{scope}/{method}{suffix}"] = value
        tags[f"verdict.{exp}"] = r["verdict"]
        tags[f"verdict_within_runs.{exp}"] = r["verdict_within_runs"]
        tags[f"verdict_stable.{exp}"] = r["verdict_stable"]
    run_params = {
        "n_boot": params.sweep.n_boot,
        "ci_level": params.sweep.ci_level,
        "min_effect": params.sweep.min_effect,
        "experiments": ",".join(results),
    }
    with start_run(params, "sweep_analysis", "analysis", run_params, tags) as run:
        run.log_metrics(metrics)
        run.log_artifact(OUT)
