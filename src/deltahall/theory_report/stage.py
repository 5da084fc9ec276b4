"""Stage `theory_report` (`deltahall theory-report`): where Theorem 5.1's bound holds, how loose
it is, and where (if anywhere) the data contradict it.

For every configuration of the `theory:` grid, deltahall.theory.compare_bound_and_monte_carlo
puts the bound (moments from a separate draw) beside a Monte-Carlo estimate of P_H with its
95 % Wilson interval. `holds` is False only when the interval's upper end is below the bound.
The grid reaches small radii, where the bound is informative, and large ones, where it is not
applicable; its proof treats A* and μ_i as independent, so a violation is a finding, not a bug.
Writes metrics/theory/bound_vs_mc.json and plots/theory/bound_vs_mc.png.
"""

from __future__ import annotations

import itertools

import numpy as np

from deltahall import paths
from deltahall.config import Params
from deltahall.figures import pyplot, save_figure
from deltahall.metrics_file import write_json
from deltahall.seeding import derive_seed
from deltahall.theory import compare_bound_and_monte_carlo


def prior(kind: str, n: int) -> np.ndarray:
    """uniform: 1/N each; skewed: one state holds half the mass, the rest share the other half."""
    if kind == "uniform" or n == 1:
        return np.full(n, 1.0 / n)
    return np.array([0.5] + [0.5 / (n - 1)] * (n - 1))


def one_configuration(
    n: int,
    dim: int,
    radius: float,
    kind: str,
    law: str,
    scale: float,
    n_samples: int,
    seed: int,
    factor: float,
) -> dict:
    def sample(rng: np.random.Generator, size: int) -> np.ndarray:
        draws = rng.normal(size=(size, n, dim))
        if law == "sphere":
            draws /= np.linalg.norm(draws, axis=2, keepdims=True)
        return scale * draws

    out = compare_bound_and_monte_carlo(
        prior(kind, n), sample, n_samples, np.random.default_rng(seed), radius=radius
    )
    bound, mc = float(out["bound"]), float(out["mc_estimate"])
    return {
        "n_states": n,
        "dim": dim,
        "radius": radius,
        "prior": kind,
        "mu_law": law,
        "mu_scale": scale,
        "bound": bound,
        "mc": mc,
        "mc_low": float(out["mc_ci_low"]),
        "mc_high": float(out["mc_ci_high"]),
        "applicable": bool(out["applicable"]),
        "holds": bool(out["bound_holds"]),
        "informative": bool(bound > 0 and mc <= factor * bound),
    }


def run_theory_report(params: Params) -> dict:
    cfg = params.theory
    grid = itertools.product(
        cfg.n_states, cfg.dims, cfg.radii, cfg.priors, cfg.mu_laws, cfg.mu_scales
    )
    rows = [
        one_configuration(
            n,
            d,
            r,
            p,
            law,
            s,
            cfg.n_samples,
            derive_seed("theory", cfg.seed, n, d, r, p, law, s),
            cfg.informative_factor,
        )
        for n, d, r, p, law, s in grid
    ]
    ratios = [r["bound"] / r["mc"] for r in rows if r["bound"] > 0 and r["mc"] > 0]
    summary = {
        "n_configurations": len(rows),
        "n_applicable": sum(r["applicable"] for r in rows),
        "n_informative": sum(r["informative"] for r in rows),
        "n_violated": sum(not r["holds"] for r in rows),
        "violated": [r for r in rows if not r["holds"]],
        # how close the bound ever comes: 1 = tight, 1e-4 = four orders of magnitude
        "max_bound_over_mc": max(ratios) if ratios else None,
        "configurations": rows,
    }
    out = paths.THEORY_METRICS
    write_json(out, summary)
    _figure(rows, cfg.informative_factor)
    print(
        f"[theory-report] {len(rows)} configurations: {summary['n_applicable']} applicable, "
        f"{summary['n_informative']} informative (bound within {cfg.informative_factor:g}x of "
        f"MC), {summary['n_violated']} where the data contradict the bound; the bound comes "
        f"within a factor {1 / max(ratios or [float('nan')]):.3g} of MC at best",
        flush=True,
    )
    return summary


def _figure(rows: list[dict], factor: float) -> None:
    plt = pyplot()

    positive = [r for r in rows if r["bound"] > 0 and r["mc"] > 0]
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for holds, color, label in ((True, "C0", "bound holds"), (False, "C3", "bound violated")):
        part = [r for r in positive if r["holds"] == holds]
        if part:
            ax.errorbar(
                [r["bound"] for r in part],
                [r["mc"] for r in part],
                yerr=[
                    [max(0.0, r["mc"] - r["mc_low"]) for r in part],
                    [max(0.0, r["mc_high"] - r["mc"]) for r in part],
                ],
                fmt="o",
                ms=3,
                color=color,
                label=f"{label} (MC, 95 % Wilson CI)",
            )
    if positive:
        lo = min(min(r["bound"] for r in positive), min(r["mc"] for r in positive))
        xs = np.geomspace(lo, 1.0, 50)
        ax.plot(xs, xs, "k--", lw=0.8, label="MC = bound")
        ax.plot(xs, np.minimum(factor * xs, 1.0), "k:", lw=0.8, label=f"MC = {factor:g} × bound")
    ax.set_ylim(top=1.5)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="Theorem 5.1 lower bound",
        ylabel="Monte-Carlo P(A* hallucinates)",
        title=f"{len(positive)} of {len(rows)} configurations have a positive bound",
    )
    ax.legend(fontsize=7, loc="lower right")
    save_figure(fig, paths.THEORY_FIGURE)
