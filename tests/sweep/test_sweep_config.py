"""The `sweep:` params section: typed, and every error names its key."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from deltahall.config import ConfigError, parse_params
from deltahall.sweep.config import Knob
from deltahall.sweep.export import study_summary, trial_rows
from deltahall.sweep.space import probes
from deltahall.sweep.stage import split
from deltahall.sweep.storage import storage_kind, storage_url

from params_helpers import committed_with


@pytest.mark.parametrize(
    "sweep, message",
    [
        ({"storage": "redis://host"}, "sweep.storage: must start with one of"),
        ({"sampler": "grid"}, "sweep.sampler"),
        (
            {"coin": {"space": {"width": {"type": "int", "low": 1, "high": 2}}}},
            "unknown knob(s) ['width'] in sweep.coin.space",
        ),
        (
            {"qa": {"space": {"lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}}},
            "sweep.qa.space.lr: a log-scale knob needs low > 0",
        ),
        (
            {"t2i": {"space": {"epochs": {"type": "int", "low": 3, "high": 1}}}},
            "sweep.t2i.space.epochs: low (3.0) must be below high (1.0)",
        ),
        (
            {"coin": {"space": {"d_model": {"type": "categorical", "choices": []}}}},
            "sweep.coin.space.d_model: a categorical knob needs `choices`",
        ),
        ({"coin": {"seeds": [1, 1]}}, "sweep.coin: seeds must not repeat"),
        ({"coin": {"n_trials": 0}}, "sweep.coin.n_trials"),
        ({"min_effect": 0}, "sweep.min_effect"),
        ({"replicate_seeds": [0]}, "replicate_seeds must be distinct and differ from seed"),
        ({"replicate_seeds": [1, 1]}, "replicate_seeds must be distinct"),
    ],
)
def test_errors_name_the_key(sweep: dict, message: str):
    with pytest.raises(ConfigError) as err:
        parse_params(committed_with({"sweep": sweep}), "params.yaml")
    assert message in str(err.value)


def test_defaults_and_smoke_profile_validate(smoke_params):
    assert smoke_params.sweep.coin.n_trials == 4 and smoke_params.sweep.qa.n_trials == 2
    default = parse_params(committed_with())
    assert set(default.sweep.coin.space) == {"lr", "epochs", "d_model", "n_layers", "batch_size"}


def test_probes_cover_both_ends_and_every_choice():
    space = {
        "lr": Knob(type="float", low=0.1, high=0.5),
        "epochs": Knob(type="int", low=1, high=4),
        "d_model": Knob(type="categorical", choices=[16, 8, 32]),
    }
    assert probes(space) == [
        {"lr": 0.1, "epochs": 1, "d_model": 8},
        {"lr": 0.5, "epochs": 4, "d_model": 32},
        {"lr": 0.1, "epochs": 1, "d_model": 16},
        {"lr": 0.1, "epochs": 1, "d_model": 8},
        {"lr": 0.1, "epochs": 1, "d_model": 32},
    ]


def test_storage_strings_and_worker_split():
    assert storage_url("sqlite:///out/{experiment}/o.db", "qa") == "sqlite:///out/qa/o.db"
    assert [storage_kind(u) for u in ("sqlite:///a.db", "journal:a.log", "postgresql://h/d")] == [
        "sqlite",
        "journal",
        "rdb",
    ]
    assert split(7, 3) == [3, 2, 2] and split(2, 3) == [1, 1, 0] and sum(split(24, 5)) == 24


def test_trial_rows_mark_the_pareto_front_of_complete_trials():
    def trial(number, state, values):
        return SimpleNamespace(
            number=number,
            state=SimpleNamespace(name=state),
            values=values,
            duration=None,
            params={"lr": 0.1 * (number + 1)},
            user_attrs={},
        )

    rows = trial_rows(
        [
            trial(2, "COMPLETE", (1.0, 0.5)),
            trial(0, "COMPLETE", (2.0, 0.1)),
            trial(1, "FAIL", None),
            trial(3, "COMPLETE", (2.0, 0.6)),
        ]
    )
    assert [(r["number"], r["pareto"]) for r in rows] == [
        (0, True),
        (1, False),
        (2, True),
        (3, False),
    ]
    summary = study_summary(rows)
    assert summary["n_complete"] == 3 and summary["n_failed"] == 1
    assert summary["pareto_trials"] == [0, 2] and summary["best_loss"]["trial"] == 2
    assert summary["best_rate"]["trial"] == 0
