"""Where the Optuna studies live, and the samplers that propose their trials.

One storage string, three deployments (the same code): `sqlite:///PATH` for one worker,
`journal:PATH` (an append-only journal file with a file lock) for parallel workers on one
machine, `postgresql://...` for workers on several machines.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import optuna
from optuna.trial import FrozenTrial

from deltahall.secrets import mask

DIRECTIONS = ["minimize", "minimize"]  # (final loss, final δ-hallucination rate)
SAMPLERS = ("tpe", "qmc", "random")


class Heartbeat(NamedTuple):
    interval: int | None  # seconds between a running trial's heartbeats
    grace_period: int | None  # a trial silent this long is failed
    on_stale: Callable[[optuna.Study, FrozenTrial], None] | None  # then called with it


def storage_url(template: str, experiment: str) -> str:
    return template.replace("{experiment}", experiment)


def replicate_file(url: str, replicate: int) -> str:
    """The SQLite URL of a replicate study: beside the main one, `-seed<S>` before the
    suffix (outputs/sweep/qa/optuna.db -> optuna-seed1.db)."""
    path = Path(url.removeprefix("sqlite:///"))
    if str(path) in ("", ":memory:"):
        return url
    return "sqlite:///" + str(path.with_name(f"{path.stem}-seed{replicate}{path.suffix}"))


def storage_kind(url: str) -> str:
    """'sqlite', 'journal' or 'rdb' (a database server shared by several machines)."""
    if url.startswith("journal:"):
        return "journal"
    return "sqlite" if url.startswith("sqlite:") else "rdb"


def open_storage(url: str, heartbeat: Heartbeat | None = None) -> Any:
    """An Optuna storage for `url`; local files get their parent folder created. On a database
    server, `heartbeat` (interval and grace period in seconds, and what to do with a trial
    whose worker went silent) turns on Optuna's heartbeats."""
    kind = storage_kind(url)
    if kind == "journal":
        path = Path(url.removeprefix("journal:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(str(path)))
    if kind == "sqlite":
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    beat = heartbeat if kind == "rdb" and heartbeat is not None else Heartbeat(None, None, None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=beat.interval,
                grace_period=beat.grace_period,
                heartbeat_stale_trial_callback=beat.on_stale,
            )
    except Exception as err:  # noqa: BLE001 - a driver or a server missing: one clear line
        raise ValueError(
            f"cannot open sweep.storage {mask(url)}: {mask(str(err).splitlines()[0])}"
        ) from None


def make_sampler(name: str, seed: int, worker: int = 0) -> optuna.samplers.BaseSampler:
    """TPE and random get one seed per worker (same seed = same proposals = duplicates);
    QMC points are indexed by trial number, so every worker shares the study's seed."""
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed + worker, n_startup_trials=6, multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed + worker)
    if name == "qmc":
        return optuna.samplers.QMCSampler(
            seed=seed,
            scramble=True,  # categorical knobs:
            warn_asynchronous_seeding=False,  # random sampling
            warn_independent_sampling=False,
        )
    raise ValueError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}")


def open_study(
    url: str,
    name: str,
    sampler: optuna.samplers.BaseSampler,
    fingerprint: dict[str, Any] | None = None,
    heartbeat: Heartbeat | None = None,
) -> optuna.Study:
    """Create the study or join the existing one of that name (other workers).

    `fingerprint` (the study's params) is stored on creation; joining a study made with
    different params is an error, so workers never mix two configurations in one study.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own one line per trial
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            storage=open_storage(url, heartbeat),
            study_name=name,
            sampler=sampler,
            directions=DIRECTIONS,
            load_if_exists=True,
        )
    if [d.name.lower() for d in study.directions] != DIRECTIONS:
        raise ValueError(
            f"study {name!r} in {mask(url)} optimises {study.directions}, not "
            f"(loss, rate); pick another sweep.study_name"
        )
    if fingerprint is not None:
        stored = study.user_attrs.get("deltahall.fingerprint")
        if stored is None:
            study.set_user_attr("deltahall.fingerprint", fingerprint)
        elif stored != fingerprint:
            raise ValueError(
                f"study {name!r} in {mask(url)} was made with other params; change "
                f"sweep.study_name or remove the study to start afresh"
            )
    return study


def delete_study(url: str, name: str) -> int:
    """Remove the study `name` if it exists; how many trials it held."""
    study = load_existing_study(url, name)
    if study is None:
        return 0
    n = len(study.get_trials(deepcopy=False))
    optuna.delete_study(study_name=name, storage=study._storage)
    return n


def state_counts(study: optuna.Study) -> dict[str, int]:
    """{'COMPLETE': ..., 'RUNNING': ..., 'WAITING': ..., 'FAIL': ..., 'PRUNED': ...}"""
    counts = {state.name: 0 for state in optuna.trial.TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] += 1
    return counts


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """COMPLETE trials in number order (failed and running ones are left out)."""
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return sorted(done, key=lambda t: t.number)


def load_existing_study(url: str, name: str) -> optuna.Study | None:
    """The study if it exists, else None; never creates a storage file (read-only views)."""
    kind = storage_kind(url)
    if kind != "rdb":
        path = url.removeprefix("journal:") if kind == "journal" else url.removeprefix("sqlite:///")
        if not Path(path).exists():
            return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.load_study(study_name=name, storage=open_storage(url))
    except KeyError:  # no study of that name in the storage
        return None
