"""The coin δ is a measurement that could fail: away from every pmf atom, reported under both
roundings, and as a whole curve over δ (the δ-sensitivity the paper lacks)."""

from __future__ import annotations

import numpy as np
import pytest

from deltahall.coin.data import regime_table
from deltahall.coin.metrics import delta_curve, reference_curves
from deltahall.config import ConfigError, parse_params
from deltahall.theory import pmf_atoms

from params_helpers import committed_with


def test_pmf_atoms_by_hand_for_n_2():
    # coins 0.25, 0.5, 0.75, 1.0; e.g. {0.25, 0.5}: P(K=0,1,2) = 0.375, 0.5, 0.125
    table, _ = regime_table(2, "observed", 1.0)
    atoms = pmf_atoms(table, 2)
    for value in (0.375, 0.5, 0.125, 0.25, 0.1875, 0.625, 0.0):
        assert np.isclose(atoms, value).any(), value
    assert np.all(np.diff(atoms) > 0) and atoms.min() >= 0 and atoms.max() <= 1


@pytest.mark.parametrize("delta", [0.25, 0.1875, 0.2504])
def test_a_delta_at_an_atom_is_refused_naming_the_key_and_why(delta):
    with pytest.raises(ConfigError) as err:
        parse_params(committed_with({"coin": {"eval": {"delta": delta}}}), "p.yaml")
    assert "coin.eval.delta: " in str(err.value) and "float rounding" in str(err.value)


def test_the_committed_delta_is_clear_of_every_atom():
    params = parse_params(committed_with(), "p.yaml")
    for n in params.coin.n_choose:
        atoms = pmf_atoms(regime_table(n, "observed", 1.0)[0], n)
        assert np.min(np.abs(atoms - params.coin.eval.delta)) >= 1e-3


def test_delta_curve_by_hand():
    probs = np.array([[0.1], [0.3], [0.6], [0.9]])
    assert delta_curve(probs, np.array([0.05, 0.1, 0.5, 0.95])).tolist() == [0, 0.25, 0.5, 1.0]
    # every state must fit badly: max over states
    two = np.array([[0.1, 0.8], [0.2, 0.1]])
    assert delta_curve(two, np.array([0.15, 0.5])).tolist() == [0.0, 0.5]


def test_reference_curves_show_the_rounding_at_the_quarter_atom():
    """N=2, Bayes-L2 with ceil: the subset {0.25, 0.75} has E[K] = 1 exactly, ceil gives 1,
    P(K=1) = 0.625; the subset {0.25, 0.5} has E[K] = 0.75 -> 1, P = 0.5; ... The one subset
    whose rounded estimate has P = 0.25 makes the ceil rate jump by 1/6 at δ = 0.25."""
    table, weights = regime_table(2, "observed", 1.0)
    curves = reference_curves(table, weights, 2, np.array([0.2499, 0.2501]))
    assert curves[("bayes_l2", "ceil")].tolist() == pytest.approx([0.0, 1 / 6])
    assert curves[("bayes_l2", "round")].tolist() == pytest.approx([0.0, 0.0])
    assert curves[("mode", "ceil")].tolist() == pytest.approx([0.0, 0.0])
