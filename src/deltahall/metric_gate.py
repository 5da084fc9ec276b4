"""`deltahall gate`: pass or fail a tracked run on a metric's confidence interval, and move a
registry alias only when it passes.

`--max X` fails when the CI's upper bound (`<metric>_high`) exceeds X: a rate whose interval
reaches above the limit has not been shown to be under it. `--min X` fails when the lower
bound (`<metric>_low`) is under X. The verdict is one line; exit 0 pass, 1 fail.
"""

from __future__ import annotations

from dataclasses import dataclass

from deltahall.errors import StageIncomplete


class GateFailed(StageIncomplete):
    """The metric's interval is not within the limit (CLI: one line, exit 1)."""


@dataclass(frozen=True)
class Verdict:
    passed: bool
    line: str


def judge(metrics: dict[str, float], metric: str, limit: float, upper: bool, run: str) -> Verdict:
    """Pure: the verdict on `metric` of one run's logged metrics (value, _low, _high)."""
    bound_key = f"{metric}_{'high' if upper else 'low'}"
    if metric not in metrics:
        near = sorted(k for k in metrics if not k.endswith(("_low", "_high")))[:12]
        raise ValueError(f"run {run} logged no metric {metric!r} (it has: {', '.join(near)})")
    if bound_key not in metrics:
        raise ValueError(
            f"run {run} logged {metric!r} without its CI bound {bound_key!r}: the gate "
            "compares the interval, not the point estimate"
        )
    value, bound = metrics[metric], metrics[bound_key]
    passed = bound <= limit if upper else bound >= limit
    side, op = ("upper", "<=" if passed else ">") if upper else ("lower", ">=" if passed else "<")
    word = "passed" if passed else "FAILED"
    line = (
        f"gate {word}: {metric} = {value:.4f}, CI {side} bound {bound:.4f} {op} "
        f"{'max' if upper else 'min'} {limit:g} (run {run})"
    )
    return Verdict(passed, line)


def _run_id(client, run: str | None, experiment: str | None, metric: str) -> str:
    if run:
        return run
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise ValueError(f"no MLflow experiment {experiment!r} in this store")
    runs = client.search_runs(
        [found.experiment_id],
        f"attributes.status = 'FINISHED' and metrics.`{metric}` > -1e308",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        raise ValueError(f"experiment {experiment!r} has no finished run that logged {metric!r}")
    return runs[0].info.run_id


def _promote(client, model: str, alias: str, run_id: str) -> str:
    versions = client.search_model_versions(f"name = '{model}' and run_id = '{run_id}'")
    if not versions:
        raise ValueError(f"run {run_id} registered no version of model {model!r}")
    version = max(versions, key=lambda v: int(v.version)).version
    client.set_registered_model_alias(model, alias, version)
    return str(version)


def run_gate(
    tracking_uri: str,
    run: str | None,
    experiment: str | None,
    metric: str,
    maximum: float | None,
    minimum: float | None,
    model: str | None,
    alias: str | None,
) -> Verdict:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if (maximum is None) == (minimum is None):
        raise ValueError("give exactly one of --max and --min")
    if (model is None) != (alias is None):
        raise ValueError("--model and --alias go together")
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        run_id = _run_id(client, run, experiment, metric)
        metrics = dict(client.get_run(run_id).data.metrics)
    except MlflowException as err:
        raise ValueError(f"cannot read run {run or experiment!r}: {err.message}") from None
    upper = maximum is not None
    verdict = judge(metrics, metric, maximum if upper else minimum, upper, run_id)
    if not verdict.passed:
        kept = f"; alias {model}@{alias} not moved" if model else ""
        raise GateFailed(verdict.line + kept)
    if model:
        version = _promote(client, model, alias, run_id)
        verdict = Verdict(True, f"{verdict.line}; {model}@{alias} -> version {version}")
    print(verdict.line)
    return verdict


def run_gate_command(args) -> None:
    from deltahall.tracking import named_store

    store = named_store(args.tracking_uri, args.params)
    run_gate(
        store, args.run, args.experiment, args.metric, args.max, args.min, args.model, args.alias
    )
