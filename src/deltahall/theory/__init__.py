"""The paper's mathematics, numpy/scipy only: no I/O, no global RNG, no torch.

"Are Hallucinations Bad Estimations?": δ-hallucination (Def. 3.2), HCDRs (Def. 5.2, App. B),
the existence constructions (Thms 4.1-4.3, Cor. 4.2.1, D.1; every HCDR non-empty), the Theorem
5.1 lower bound beside a Monte-Carlo estimate, and the exact Poisson-binomial quantities of the
coin experiment (§6.1).
"""

from deltahall.theory.coin import coin_head_probs, coin_reference_values, pmf_atoms, round_total
from deltahall.theory.constructions import (
    corollary_4_2_1_construction,
    theorem_4_1_construction,
    theorem_4_2_construction,
    theorem_4_3_construction,
)
from deltahall.theory.cross_entropy import (
    theorem_d1_construction,
    theorem_d1_log_density_at_optimum,
    theorem_d1_max_variance,
    theorem_d1_paper_variance,
)
from deltahall.theory.gaussian import GaussianStates, gaussian_hcdr_radius, gaussian_log_pdf
from deltahall.theory.hallucination import (
    delta_hallucinates,
    densities_from_gaussian_mixtures,
    densities_from_pmfs,
    densities_from_scipy,
    gaussian_mixture_log_densities,
)
from deltahall.theory.hcdr import hcdr_membership, hcdr_thresholds, outside_hcdr_union
from deltahall.theory.lower_bound import BoundResult, best_alpha, theorem_5_1_lower_bound
from deltahall.theory.monte_carlo import (
    MonteCarloResult,
    MuMoments,
    compare_bound_and_monte_carlo,
    moments_from_samples,
    monte_carlo_hallucination_probability,
    wilson_interval,
)
from deltahall.theory.poisson_binomial import poisson_binomial_pmf, poisson_binomial_pmf_batch

__all__ = [
    "BoundResult",
    "GaussianStates",
    "MonteCarloResult",
    "MuMoments",
    "best_alpha",
    "coin_head_probs",
    "coin_reference_values",
    "pmf_atoms",
    "compare_bound_and_monte_carlo",
    "corollary_4_2_1_construction",
    "delta_hallucinates",
    "densities_from_gaussian_mixtures",
    "densities_from_pmfs",
    "densities_from_scipy",
    "gaussian_hcdr_radius",
    "gaussian_log_pdf",
    "gaussian_mixture_log_densities",
    "hcdr_membership",
    "hcdr_thresholds",
    "moments_from_samples",
    "monte_carlo_hallucination_probability",
    "outside_hcdr_union",
    "poisson_binomial_pmf",
    "poisson_binomial_pmf_batch",
    "round_total",
    "theorem_4_1_construction",
    "theorem_4_2_construction",
    "theorem_4_3_construction",
    "theorem_5_1_lower_bound",
    "theorem_d1_construction",
    "theorem_d1_log_density_at_optimum",
    "theorem_d1_max_variance",
    "theorem_d1_paper_variance",
    "wilson_interval",
]
