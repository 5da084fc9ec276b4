"""The one place that talks to MLflow.

Files first, trackers second: stages write their DVC outputs before mirroring here, and a
tracker failure is reported on stderr and disables further tracking for that run instead of
losing the stage's work. A run whose body raises is ended with status FAILED, so the epochs
already logged stay visible.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deltahall.config import Params
from deltahall.mlflow_ui import EXPERIMENT_KIND, NOTE_TAG, dvc_digest, experiment_note, run_note
from deltahall.secrets import mask

ENV_URI = "MLFLOW_TRACKING_URI"
# The pipeline's own committed results: rewritten by every run, so not what `git_dirty` asks.
PIPELINE_RESULTS = ("dvc.lock", "metrics", "plots")


def tracking_uri(params: Params) -> str:
    """The env var wins (MLflow's own convention), else params.yaml's tracking.uri."""
    return os.environ.get(ENV_URI) or params.tracking.uri


def named_store(uri: str | None, params_path: Path) -> str:
    """A tool's store: `uri` (--tracking-uri), else the stages' own (:func:`tracking_uri`)."""
    if uri:
        return uri
    from deltahall.config import load_params

    return tracking_uri(load_params(params_path))


def git_state(cwd: Path | None = None) -> dict[str, str]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or "unknown"
    changed = git(
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ".",
        *(f":(exclude){path}" for path in PIPELINE_RESULTS),
    )
    dirty = "true" if changed else "false"
    return {"git_commit": commit, "mlflow.source.git.commit": commit, "git_dirty": dirty}


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}: MLflow params are flat."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


class Run:
    """A handle on one MLflow run that never lets a tracker error kill the stage."""

    def __init__(self, mlflow_module: Any | None):
        self._mlflow = mlflow_module
        self.run_id: str | None = None
        self.model_id: str | None = None  # the LoggedModel the run's metrics link to

    @property
    def active(self) -> bool:
        return self._mlflow is not None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> None:
        if self._mlflow is None:
            return
        try:
            getattr(self._mlflow, method)(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - any tracker failure must not lose files
            print(
                f"warning: MLflow {method} failed ({err}); tracking disabled for this run",
                file=sys.stderr,
            )
            self._mlflow = None

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._call("log_metrics", {k: float(v) for k, v in metrics.items()}, step=step)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._call("log_params", {k: str(v)[:6000] for k, v in params.items()})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._call("set_tags", {k: str(v) for k, v in tags.items()})

    def log_artifact(self, path: Path | str, artifact_path: str | None = None) -> None:
        self._call("log_artifact", str(path), artifact_path=artifact_path)

    def log_input(self, path: Path, digest: str, context: str = "training") -> None:
        """A DVC-versioned file or folder the run read: the UI's Datasets column."""
        if self._mlflow is None:
            return
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.data.sources import LocalArtifactDatasetSource

        source = LocalArtifactDatasetSource(path.as_posix())
        dataset = MetaDataset(source, name=path.as_posix(), digest=digest or "untracked")
        for attempt in range(3):  # two seeds' processes may insert the same dataset at once
            try:
                self._mlflow.log_input(dataset, context=context)
                return
            except Exception:  # noqa: BLE001 - the loser of the race finds it there next time
                time.sleep(0.2 * (attempt + 1))
        self._call("log_input", dataset, context=context)

    def log_table(self, data: Any, artifact_file: str) -> None:
        """A pandas DataFrame (or dict of columns) as a table the MLflow UI shows."""
        self._call("log_table", data=data, artifact_file=artifact_file)

    def log_image(self, path: Path, key: str, step: int) -> None:
        """A PNG under `key` at `step`: the UI's step slider walks it through training."""
        if self._mlflow is not None:
            from PIL import Image

            with Image.open(path) as image:
                self._call("log_image", image.copy(), key=key, step=step)

    def expect_model(self) -> None:
        """Open the run's LoggedModel `model` now and make it MLflow's active model: every
        metric logged from here on (each epoch's) is linked to it, and `log_model` fills it."""
        if self._mlflow is None:
            return
        try:
            self.model_id = self._mlflow.initialize_logged_model(
                name="model", source_run_id=self.run_id
            ).model_id
            self._mlflow.set_active_model(model_id=self.model_id)
        except Exception as err:  # noqa: BLE001 - a tracker failure must not lose the stage
            print(f"warning: MLflow LoggedModel failed ({err}); no model linked", file=sys.stderr)

    def log_model(self, model: Any, requirements: Sequence[str] = (), example: Any = None) -> None:
        """The trained torch module into the run's LoggedModel (pytorch flavour, pickled:
        loading it needs deltahall installed); `example`: one input, for the signature."""
        if self._mlflow is None or self.model_id is None:
            return
        try:
            _log_torch_model(model, self.model_id, requirements, example)
            self._mlflow.clear_active_model()
            self.model_id = None
        except Exception as err:  # noqa: BLE001 - a tracker failure must not lose the stage
            print(f"warning: MLflow log_model failed ({err}); no model logged", file=sys.stderr)

    def _close_model(self) -> None:
        """A model the run never filled (it crashed, was stopped) ends FAILED, not PENDING."""
        if self.model_id is not None:
            from mlflow.entities import LoggedModelStatus

            self._call("finalize_logged_model", self.model_id, LoggedModelStatus.FAILED)
            self._call("clear_active_model")
            self.model_id = None


def _log_torch_model(model: Any, model_id: str, requirements, example) -> None:
    import torch
    from mlflow import pytorch as mlflow_pytorch
    from mlflow.models import infer_signature

    signature = None
    if example is not None:
        with torch.no_grad():
            signature = infer_signature(example, model(torch.as_tensor(example)).numpy())
    mlflow_pytorch.log_model(
        model,
        name="model",
        model_id=model_id,
        signature=signature,
        serialization_format="pickle",  # pt2 would trace one fixed batch shape
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", *requirements],
    )


class TrackingUnavailable(ValueError):
    """The tracking store cannot be reached and params say tracking is required."""


def _connect(uri: str, experiment: str, required: bool) -> Any | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import mlflow

            mlflow.set_tracking_uri(uri)
            mlflow.set_experiment(experiment)
            mlflow.set_experiment_tags(
                {"mlflow.experimentKind": EXPERIMENT_KIND, NOTE_TAG: experiment_note(experiment)}
            )
        return mlflow
    except Exception as err:  # noqa: BLE001
        if required:
            raise TrackingUnavailable(
                f"cannot reach MLflow at {mask(uri)} ({mask(err)}); nothing was trained. Start "
                f"the server, fix tracking.uri, or set tracking.required: false to train untracked"
            ) from None
        print(
            f"warning: cannot reach MLflow at {mask(uri)} ({mask(err)}); continuing without "
            f"tracking",
            file=sys.stderr,
        )
        return None


def prepare(params: Params, experiment: str) -> None:
    """Create the store's tables and the experiment now, before worker processes that log into
    it start: two processes migrating one fresh SQLite store at once fail."""
    _connect(tracking_uri(params), experiment, params.tracking.required)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_orphans(mlflow: Any, experiment: str) -> list[str]:
    """Runs of `experiment` left RUNNING by a process of this host that no longer exists
    (`kill -9`, a power cut) are ended FAILED with a tag saying why. Runs of other hosts and of
    live processes are left alone: on a shared server they may still be training."""
    client = mlflow.tracking.MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    host = socket.gethostname()
    query = f"attributes.status = 'RUNNING' and tags.`deltahall.host` = '{host}'"
    ended = []
    for run in client.search_runs([found.experiment_id], query, max_results=1000):
        pid = int(run.data.tags.get("deltahall.pid", "0") or 0)
        if pid <= 0 or pid == os.getpid() or _pid_alive(pid):
            continue
        client.set_tag(
            run.info.run_id,
            "deltahall.orphaned",
            f"process {pid} on {host} died without ending this run (e.g. kill -9); "
            f"marked FAILED when the stage next started",
        )
        client.set_terminated(run.info.run_id, status="FAILED")
        ended.append(run.info.run_id)
    if ended:
        print(
            f"note: {len(ended)} orphaned MLflow run(s) of {experiment!r} marked FAILED",
            file=sys.stderr,
        )
    return ended


@contextmanager
def start_run(
    params: Params,
    experiment: str,
    run_name: str,
    run_params: Mapping[str, Any],
    tags: Mapping[str, Any],
    parent_run_id: str | None = None,
    inputs: Sequence[Path] = (),
    system_metrics: bool = False,
) -> Iterator[Run]:
    """One MLflow run of a stage, tagged with the git commit and the profile, carrying flat
    params, in the store of params.yaml (or MLFLOW_TRACKING_URI).

    `parent_run_id` makes it a nested run of that run (e.g. an Optuna trial under its study's
    run), whether the parent is active in this process or was started by another one.
    `inputs`: the DVC-versioned paths it reads, logged as its datasets (source: the path,
    digest: its DVC hash); `system_metrics`: CPU, memory and disk sampled while it trains.
    """
    tags = {"profile": params.profile, **tags}
    uri, required = tracking_uri(params), params.tracking.required
    with open_run(
        uri, required, experiment, run_name, run_params, tags, parent_run_id, inputs, system_metrics
    ) as run:
        yield run


ENV_RUN_ID = "MLFLOW_RUN_ID"  # set by `mlflow run` to the project's run


def _start(mlflow: Any, run_name: str, parent_run_id: str | None, system_metrics: bool) -> str:
    """A new run, nested under `parent_run_id`, else under the `mlflow run` project's run
    (every run of the process and its workers then nests under it)."""
    # MLflow's start_run would resume this run itself (refusing another experiment) and
    # end_run unsets it: hidden for the call, put back for the next run and for workers
    project = os.environ.pop(ENV_RUN_ID, None)
    try:
        parent = parent_run_id or project
        active = mlflow.start_run(
            run_name=run_name,
            nested=parent is not None,
            parent_run_id=parent,
            log_system_metrics=system_metrics,
        )
    finally:
        if project is not None:
            os.environ[ENV_RUN_ID] = project
    if project is not None and parent_run_id is None:
        from mlflow import MlflowClient

        MlflowClient().set_tag(project, f"deltahall.run.{run_name}", active.info.run_id)
    return active.info.run_id


def _end(run: Run, status: str) -> None:
    if run.active:
        run._close_model()
        project = os.environ.get(ENV_RUN_ID)
        run._call("end_run", status=status)
        if project is not None:
            os.environ[ENV_RUN_ID] = project


@contextmanager
def open_run(
    uri: str,
    required: bool,
    experiment: str,
    run_name: str,
    run_params: Mapping[str, Any],
    tags: Mapping[str, Any],
    parent_run_id: str | None = None,
    inputs: Sequence[Path] = (),
    system_metrics: bool = False,
) -> Iterator[Run]:
    """:func:`start_run` for any store: the tools (`deltahall score`) log through it too."""
    mlflow = _connect(uri, experiment, required)
    run = Run(mlflow)
    if mlflow is not None:
        try:
            fail_orphans(mlflow, experiment)
        except Exception as err:  # noqa: BLE001 - a cleanup of old runs must not stop this one
            print(f"warning: could not check for orphaned MLflow runs ({err})", file=sys.stderr)
        try:
            run.run_id = _start(mlflow, run_name, parent_run_id, system_metrics)
        except Exception as err:  # noqa: BLE001
            if required:
                raise TrackingUnavailable(
                    f"MLflow could not start run {run_name!r} in {experiment!r} ({mask(err)}); "
                    "nothing was trained untracked"
                ) from None
            print(f"warning: MLflow start_run failed ({err})", file=sys.stderr)
            run = Run(None)
    run.set_tags(
        {
            **git_state(),
            "deltahall.host": socket.gethostname(),
            "deltahall.pid": os.getpid(),
            NOTE_TAG: run_note(experiment, run_name),
            **tags,
        }
    )
    run.log_params(flatten(dict(run_params)))
    for path in inputs:
        run.log_input(Path(path), dvc_digest(Path(path)))
    try:
        with terminate_raises():
            yield run
    except (KeyboardInterrupt, Terminated):
        _end(run, "KILLED")  # Ctrl-C, or a `kill` / a scheduler's SIGTERM: not a bug, a stop
        raise
    except BaseException:
        _end(run, "FAILED")
        raise
    _end(run, "FINISHED")


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM, so that a killed stage ends its run as KILLED
    (with every epoch already logged) instead of leaving it RUNNING forever."""


@contextmanager
def terminate_raises() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def read_runs(
    params: Params, experiment: str, keep_metric: Callable[[str], bool] = lambda key: True
) -> list[dict[str, Any]]:
    """Finished runs of one experiment, newest first, for read-only views (the dashboard):
    run_id, experiment_id, name, status, start_time, tags, params, and the full step history
    of every metric `keep_metric` selects ({key: [(step, value), ...]}). [] when the store
    or the experiment does not exist."""
    uri = tracking_uri(params)
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return []
        runs = client.search_runs(
            [found.experiment_id],
            "attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=5000,
        )
        return [
            {
                "run_id": r.info.run_id,
                "experiment_id": r.info.experiment_id,
                "name": r.info.run_name,
                "status": r.info.status,
                "start_time": r.info.start_time,
                "tags": dict(r.data.tags),
                "params": dict(r.data.params),
                "metrics": {
                    k: sorted(
                        (m.step, m.value) for m in client.get_metric_history(r.info.run_id, k)
                    )
                    for k in r.data.metrics
                    if keep_metric(k)
                },
            }
            for r in runs
        ]
    except Exception as err:  # noqa: BLE001 - a view must say what it could not read
        print(
            f"warning: cannot read MLflow runs of {experiment!r} at {mask(uri)} ({mask(err)})",
            file=sys.stderr,
        )
        return []
