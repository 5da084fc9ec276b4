"""Stage `facts_sweep` (Kalai et al.: hallucinations on arbitrary facts track the singleton
rate): worlds that differ only in the share of facts stated once, each with its own facts base
pretrained and asked as in stage `facts` (worlds side by side in facts.sweep.processes
processes); error rate against singleton rate across worlds.

Writes metrics/facts/sweep.json (per world: singleton rate, error rate with its CI, error by
mentions, Kalai's bound) and plots/facts/sweep.png; MLflow run `facts-sweep` in `facts`, one
step per world.
"""

from __future__ import annotations

import numpy as np
import torch

from deltahall import paths
from deltahall.config import Params
from deltahall.epochs import EpochLogger
from deltahall.facts.analysis import error_by_mentions, hallucination_rate
from deltahall.facts.stage import ask_arbitrary_facts, pretrain_facts_base
from deltahall.figures import pyplot, save_figure
from deltahall.metrics_file import write_json
from deltahall.parallel import run_jobs
from deltahall.tracking import start_run
from deltahall.world.config import WorldConfig
from deltahall.world.generate import generate_world
from deltahall.world.stage import summarise

SWEEP_METRICS, SWEEP_FIGURE = (
    paths.FACTS_METRICS.parent / "sweep.json",
    paths.FACTS_PLOTS / "sweep.png",
)


def _one_world(params: Params, share: float, index: int) -> dict:
    """One world's facts base, pretrained and asked (seeded by facts.seed alone: the same
    numbers in this process or a worker)."""
    cfg, sweep = params.facts, params.facts.sweep
    torch.set_num_threads(cfg.torch_threads)
    world_cfg = WorldConfig.model_validate(
        {**params.world.model_dump(), "n_people": sweep.n_people, "mentions": sweep.mentions(share)}
    )
    world = generate_world(world_cfg)
    facts = summarise(world)
    asked = [
        {
            "attribute": f.attribute,
            "person": f.person,
            "values": f.values[0],
            "mentions": f.mentions,
        }
        for f in world.facts
        if len(f.values) == 1
    ]
    tag = f"[facts-sweep {index + 1}/{len(sweep.singleton_shares)} share {share:g}]"
    log = EpochLogger(tag, cfg.pretrain.epochs, ["train/loss"])
    model, tokenizer = pretrain_facts_base(cfg, list(world.corpus), log)
    _, flags, mentions = ask_arbitrary_facts(cfg, model, tokenizer, asked)
    correct = flags["exact"]
    return {
        "share_stated_once": facts["share_stated_once"],
        "singleton_rate": facts["singleton_rate"],
        "n_statements": facts["n_sentences"],
        "error_rate": hallucination_rate(correct, cfg.n_boot, cfg.ci_level),
        "error_rate_by_mentions": error_by_mentions(
            mentions, correct, cfg.mention_bins, cfg.n_boot, cfg.ci_level
        ),
        "kalai_bound": facts["kalai_bound"],
    }


def _figure(worlds: list[dict]) -> None:
    plt = pyplot()

    sr = [w["singleton_rate"] for w in worlds]
    rate = [w["error_rate"]["rate"] for w in worlds]
    err = [
        [w["error_rate"]["rate"] - w["error_rate"]["low"] for w in worlds],
        [w["error_rate"]["high"] - w["error_rate"]["rate"] for w in worlds],
    ]
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    ax.errorbar(sr, rate, yerr=err, fmt="o-", color="C3", capsize=3, label="error rate (95 % CI)")
    top = max(max(sr), max(rate)) * 1.1 or 1.0
    ax.plot([0, top], [0, top], color="grey", ls="--", label="error = singleton rate")
    ax.plot(
        sr,
        [w["kalai_bound"]["value"] for w in worlds],
        "x:",
        color="C0",
        label="Kalai's bound at this N",
    )
    ax.set(
        xlabel="singleton rate |S|/N",
        ylabel="wrong answers on arbitrary facts",
        ylim=(min(0.0, *[w["kalai_bound"]["value"] for w in worlds]) - 0.05, top),
    )
    ax.set_title("Errors across worlds", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, SWEEP_FIGURE)


def run_facts_sweep(params: Params) -> dict:
    cfg = params.facts
    run_params = {"sweep": cfg.sweep.model_dump(), "facts": cfg.model_dump(exclude={"sweep"})}
    with start_run(
        params, "facts", "facts-sweep", run_params, {"deltahall.stage": "facts_sweep"}
    ) as run:
        shares = cfg.sweep.singleton_shares
        jobs = [(params, share, i) for i, share in enumerate(shares)]
        found = run_jobs(_one_world, jobs, cfg.sweep.processes)
        worlds = [{"singleton_share": share, **w} for share, w in zip(shares, found)]
        for i, (share, w) in enumerate(zip(shares, worlds)):
            run.log_metrics(
                {
                    "sweep/singleton_rate": w["singleton_rate"],
                    "sweep/error_rate": w["error_rate"]["rate"],
                },
                step=i,
            )
            print(
                f"[facts-sweep] share {share:g}: singleton rate {w['singleton_rate']:.3f}, error "
                f"rate {w['error_rate']['rate']:.3f} [{w['error_rate']['low']:.3f}, "
                f"{w['error_rate']['high']:.3f}]",
                flush=True,
            )
        sr = np.array([w["singleton_rate"] for w in worlds])
        rate = np.array([w["error_rate"]["rate"] for w in worlds])
        summary = {
            "worlds": worlds,
            # least-squares slope of error rate on singleton rate across the worlds
            "slope": float(np.polyfit(sr, rate, 1)[0]) if np.ptp(sr) > 0 else None,
            "error_at_least_singleton_rate": bool(np.all(rate >= sr)),
        }
        write_json(SWEEP_METRICS, summary)
        _figure(worlds)
        run.log_artifact(SWEEP_FIGURE)
    return summary
