"""`deltahall repro`'s plan: which stages start when, how many at once, what a changed output
adds. Its end-to-end run on the smoke profile is tests/test_pipeline.py (a plain `dvc repro`
after it reruns nothing)."""

from __future__ import annotations

from pathlib import Path

import yaml

from deltahall import repro
from deltahall.config import load_params
from deltahall.repro_plan import fastest_possible, next_stages, stage_cores, upstream

REPO = Path(__file__).resolve().parents[1]
DEPS = {  # stage -> the stages it depends on
    "validate": set(),
    "data_a": {"validate"},
    "data_b": {"validate"},
    "train_a": {"data_a"},
    "report": {"train_a", "data_b"},
    "other": {"validate"},
}
UP = upstream(DEPS)


def test_upstream_is_every_stage_a_stage_depends_on_through_others():
    assert UP["report"] == {"train_a", "data_a", "data_b", "validate"}
    assert UP["validate"] == set()


def test_stages_wait_for_everything_upstream_and_share_the_cores():
    order = ["validate", "data_a", "data_b", "train_a", "other", "report"]
    cores = {"validate": 1, "data_a": 1, "data_b": 1, "train_a": 2, "other": 1, "report": 1}
    assert next_stages(order, {}, UP, cores, 2) == ["validate"]
    assert next_stages(order[1:], {}, UP, cores, 2) == ["data_a", "data_b"]  # a pair
    pending = ["train_a", "other", "report"]
    assert next_stages(pending, {"data_b"}, UP, cores, 2) == ["other"]  # what fits
    assert next_stages(pending, {"data_b", "other"}, UP, cores, 2) == []
    # report waits for data_a even when train_a (between them) is not queued yet: data_a's
    # output may come out changed and queue train_a
    assert next_stages(["data_a", "report"], {}, UP, cores, 2) == ["data_a"]
    assert next_stages(order[1:], {}, UP, cores, 1) == ["data_a"]  # one core: in order
    assert next_stages(["train_a", "other"], {"data_a"}, UP, cores, 4) == ["other"]


def test_one_core_stages_wait_while_a_wider_one_can_run_so_that_they_pair_up():
    cores = {"data_b": 1, "train_a": 2, "other": 1}
    assert next_stages(["data_b", "train_a", "other"], {}, UP, cores, 2) == ["train_a"]
    assert next_stages(["data_b", "other"], {}, UP, cores, 2) == ["data_b", "other"]


def test_a_stage_wider_than_the_machine_or_unknown_runs_alone():
    cores = {"data_a": 4, "data_b": 1, "other": 0}
    assert next_stages(["data_b", "data_a", "other"], {}, UP, cores, 2) == ["data_a"]
    assert next_stages(["data_b", "other"], {}, UP, cores, 2) == ["other"]  # alone
    assert next_stages(["data_a"], {"other"}, UP, cores, 2) == []
    assert next_stages(["data_a"], {"data_b"}, UP, cores, 2) == []
    assert next_stages(["data_b"], {"other"}, UP, cores, 2) == []


def test_fastest_possible_is_the_busier_of_the_cores_and_the_longest_chain():
    seconds = {"validate": 2.0, "data_a": 10.0, "data_b": 4.0, "train_a": 30.0, "report": 1.0}
    cores = {"validate": 1, "data_a": 1, "data_b": 1, "train_a": 2, "report": 1}
    # 2 + 10 + 4 + 60 + 1 = 77 core-seconds; two cores: 38.5 s; the chain validate, data_a,
    # train_a, report: 43 s, and it is the bound
    assert fastest_possible(seconds, DEPS, cores, 2) == (77.0, 43.0)
    # train_a on four cores of four: 137 core-seconds, 34.25 s each, under the same chain
    assert fastest_possible(seconds, DEPS, {**cores, "train_a": 4}, 4) == (137.0, 43.0)
    # one core: every second one after another
    assert fastest_possible(seconds, DEPS, cores, 1) == (47.0, 47.0)
    # a stage of unknown width (0) or wider than the machine counts as the whole machine;
    # stages that did not run are no part of a chain
    wide = {**cores, "data_b": 0, "train_a": 8}
    assert fastest_possible({"data_b": 4.0, "train_a": 30.0}, DEPS, wide, 2) == (68.0, 34.0)


def test_every_stage_of_the_pipeline_has_a_width_from_its_params():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    params = load_params(REPO / "params.yaml")
    names = [f"{n}@x" if "foreach" in s else n for n, s in stages.items()]
    widths = {name.split("@")[0]: stage_cores(name, params) for name in names}
    assert all(w >= 1 for w in widths.values()), widths  # none unknown: none runs alone
    assert widths["coin_train"] == 2 and widths["coin_report"] == 1  # 2 processes, 1 thread
    assert widths["t2i_pretrain"] == 1 and widths["qa_pretrain"] == 2  # 1 and 2 threads
    assert widths["sweep_t2i"] == 2 and widths["sweep_qa"] == 2  # 2 studies; 1 x 2 threads


def _lock(tmp_path: Path, outs: dict[str, str]) -> None:
    stages = {s: {"cmd": s, "outs": [{"path": s, "md5": h}]} for s, h in outs.items()}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))


def test_a_stage_whose_outputs_changed_queues_its_readers_only(tmp_path, monkeypatch):
    order = ["validate", "data_a", "data_b", "train_a", "other", "report"]
    monkeypatch.setattr(repro, "pipeline", lambda root: (order, DEPS, {"validate", "data_b"}))
    _lock(tmp_path, {"validate": "v1", "data_b": "b1"})
    plan = repro.Plan(tmp_path, load_params(REPO / "params.yaml"))
    assert plan.pending == ["validate", "data_b"]
    plan.pending.remove("validate")
    plan.finished("validate")  # the same stamp: nothing downstream reads anything new
    assert plan.pending == ["data_b"]
    plan.pending.remove("data_b")
    _lock(tmp_path, {"validate": "v1", "data_b": "b2"})
    plan.finished("data_b")
    assert plan.pending == ["report"]  # what `dvc repro` would rerun after it


def test_jobs_below_one_is_refused_before_anything_runs(tmp_path, monkeypatch, capsys):
    from deltahall.cli import main

    monkeypatch.chdir(tmp_path)  # no DVC repository here: nothing could run anyway
    assert main(["repro", "--jobs", "0"]) == 2
    assert "--jobs must be >= 1 (got 0)" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_lock_file_queues_the_readers_to_be_safe(tmp_path, monkeypatch):
    order = ["validate", "data_a", "data_b", "train_a", "other", "report"]
    monkeypatch.setattr(repro, "pipeline", lambda root: (order, DEPS, {"data_b"}))
    monkeypatch.setattr(repro.time, "sleep", lambda s: None)
    _lock(tmp_path, {"data_b": "b1"})
    plan = repro.Plan(tmp_path, load_params(REPO / "params.yaml"))
    plan.pending.remove("data_b")
    (tmp_path / "dvc.lock").write_text("stages: {data_b: [")  # caught mid-write
    assert repro.locked_outs(tmp_path) is None
    plan.finished("data_b")
    assert plan.pending == ["report"]  # `dvc repro -s report` decides; it may skip


def test_outside_a_dvc_repository_one_line_and_nothing_written(tmp_path, monkeypatch, capsys):
    from deltahall.cli import main

    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["repro"]) == 2
    err = capsys.readouterr().err
    assert "deltahall repro: error: dvc: you are not inside of a DVC repository" in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["params.yaml"]


def test_the_stages_find_this_venvs_deltahall_without_an_activated_venv(monkeypatch):
    import os
    import sys

    monkeypatch.setenv("PATH", "/usr/bin")
    first, rest = repro._env()["PATH"].split(os.pathsep, 1)
    assert first == str(Path(sys.executable).parent) and rest == "/usr/bin"
