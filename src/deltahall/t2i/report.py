"""`deltahall t2i-report`: Figures 5 and 6 of the paper from the tracked history, and the
measured claim against the real-image floor (t2i/claim.py).

Reads plots/t2i/history.csv, the file mirror of the per-seed MLflow runs (same metric names,
step = epoch; epoch 0 = the pretrained base), and the detector's real floor
(metrics/detector.json: real held-out images judged with thresholds they did not shape).
Figures: t2i/figures.py.
"""

from __future__ import annotations

import json

import pandas as pd

from deltahall import paths
from deltahall.config import Params
from deltahall.figures import log_report
from deltahall.metrics_file import write_json
from deltahall.stats import bootstrap_ci
from deltahall.t2i import claim, keys
from deltahall.t2i.figures import figure5, figure6


def _excess_by_epoch(history, metric, floor, n_boot, level) -> list[dict]:
    flags = claim.floor_flags(floor)
    return [
        {"epoch": int(e), **claim.excess(g[metric].to_numpy(), flags, n_boot, level, int(e))}
        for e, g in history.groupby("epoch")
    ]


def _floor_of(prompt: str, floors: dict) -> dict:
    """A class prompt's floor is its class's; any other prompt's is the pooled one."""
    return floors.get(prompt, floors["all"])


def measured_claim(
    history: pd.DataFrame, floors: dict, prompts: list[str], n_boot: int, level: float
) -> dict:
    """First (epoch 0, the base) / last epoch and change, with CIs across seeds, for loss and
    rate; the real floor; the excess over it per epoch (overall and per prompt); the slope of
    rate on loss; and the verdict they support."""
    first, last = history["epoch"].min(), history["epoch"].max()
    by_seed = history.set_index(["seed", "epoch"])
    out: dict = {}
    for metric in keys.SHOWN:
        a = by_seed[metric].xs(first, level="epoch")
        b = by_seed[metric].xs(last, level="epoch")
        out[metric] = {
            k: list(bootstrap_ci(v.to_numpy(), n_boot, level, seed=i))
            for i, (k, v) in enumerate({"first": a, "last": b, "change": b - a}.items())
        }
    out["loss_falls"] = out[keys.TRAIN_LOSS]["change"][2] < 0.0
    base = by_seed.xs(first, level="epoch")
    out["base_rate"] = {"all": out[keys.HALL_RATE]["first"][0]}
    out["base_rate"].update(
        {p: float(base[keys.per_prompt(keys.HALL_RATE, p)].mean()) for p in prompts}
    )
    out["real_heldout"] = floors["all"]
    out["real_heldout_rate"] = floors["all"]["rate"]
    out["real_heldout_rate_low"], out["real_heldout_rate_high"] = (
        floors["all"]["low"],
        floors["all"]["high"],
    )
    out["excess_rate_by_epoch"] = _excess_by_epoch(
        history, keys.HALL_RATE, floors["all"], n_boot, level
    )
    out["by_prompt"] = {}
    for p in prompts:
        metric, floor = keys.per_prompt(keys.HALL_RATE, p), _floor_of(p, floors)
        out["by_prompt"][p] = {
            "real_heldout": floor,
            "excess_rate_by_epoch": _excess_by_epoch(history, metric, floor, n_boot, level),
        }
    out["rate_loss_slope"] = claim.rate_loss_slope(history, n_boot, level, seed=0)
    out["rate_stays_above_floor"] = out["excess_rate_by_epoch"][-1]["low"] > 0.0
    out["verdict"] = claim.verdict(
        out["excess_rate_by_epoch"][-1], out["rate_loss_slope"], out["loss_falls"]
    )
    return out


def _real_floors() -> dict:
    try:
        return json.loads(paths.DETECTOR_METRICS.read_text())["real_floor"]
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{paths.DETECTOR_METRICS} missing: run the detector stage first"
        ) from None
    except KeyError:
        raise ValueError(
            f"{paths.DETECTOR_METRICS} has no real_floor: rerun the detector stage"
        ) from None


def run_t2i_report(params: Params) -> dict:
    cfg = params.t2i
    if not paths.T2I_HISTORY.exists():
        raise FileNotFoundError(f"{paths.T2I_HISTORY} missing: run the t2i_train stage first")
    history = pd.read_csv(paths.T2I_HISTORY)
    prompts = {p.name: p.text for p in cfg.prompts}
    n_boot, level = cfg.eval.n_boot, cfg.eval.level
    measured = measured_claim(history, _real_floors(), list(prompts), n_boot, level)
    figures = paths.T2I_PLOTS / "figures"
    figure5(history, measured, figures / "figure5.png", n_boot, level)
    figure6(history, prompts, measured, figures / "figure6.png", n_boot, level)
    log_report(params, "t2i_report", [figures / "figure5.png", figures / "figure6.png"])
    summary = {
        "seeds": int(history["seed"].nunique()),
        "epochs": int(history["epoch"].max()),
        "level": level,
        **measured,
    }
    write_json(paths.T2I_METRICS / "summary.json", summary)
    _print(summary)
    return summary


def _print(summary: dict) -> None:
    for metric in (keys.TRAIN_LOSS, keys.HALL_RATE):
        first, last, c = (summary[metric][k] for k in ("first", "last", "change"))
        print(
            f"[t2i-report] {metric}: epoch 0 (base) {first[0]:.4f} [{first[1]:.4f}, "
            f"{first[2]:.4f}] -> last {last[0]:.4f} [{last[1]:.4f}, {last[2]:.4f}], change "
            f"{c[0]:+.4f} [{c[1]:+.4f}, {c[2]:+.4f}]"
        )
    floor, slope = summary["real_heldout"], summary["rate_loss_slope"]
    print(
        f"[t2i-report] real held-out images flagged {floor['rate']:.3f} "
        f"[{floor['low']:.3f}, {floor['high']:.3f}]; excess by epoch "
        + " ".join(f"{r['excess']:+.3f}" for r in summary["excess_rate_by_epoch"])
    )
    print(
        f"[t2i-report] slope of rate on loss {slope['slope']:+.3f} "
        f"[{slope['low']:+.3f}, {slope['high']:+.3f}] ({slope['n_runs']} runs): "
        f"{summary['verdict']}"
    )
