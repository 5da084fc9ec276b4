"""dvc.yaml's `deps` name every project module that a stage's command imports.

The imports are read from the source (every `import deltahall...` / `from deltahall... import`,
at any depth of a file, so lazy imports inside functions count), starting from the CLI and the
module that `deltahall.cli.STAGES` runs for the stage's subcommand. A dep may be the file or a
folder above it. Without this, editing e.g. `theory/hallucination.py` would rerun nothing.
"""

from __future__ import annotations

import shlex

import pytest
import yaml

from deltahall.cli import STAGE_MODULES

from import_graph import REPO, SRC, import_closure, stage_roots


def stage_commands() -> dict[str, list[str]]:
    """{stage name: its command's words} for every stage of dvc.yaml."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {name: shlex.split(body.get("do", body)["cmd"]) for name, body in stages.items()}


def stage_deps(name: str) -> list[str]:
    body = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][name]
    return [d for d in body.get("do", body).get("deps", [])]


def missing_deps(stage: str) -> list[str]:
    needed = import_closure(*stage_roots(stage_commands()[stage]))
    deps = [REPO / d for d in stage_deps(stage)]
    return sorted(
        str(p.relative_to(REPO)) for p in needed if not any(p == d or d in p.parents for d in deps)
    )


@pytest.mark.parametrize("stage", sorted(stage_commands()))
def test_stage_deps_cover_every_imported_module(stage: str):
    assert missing_deps(stage) == [], f"dvc.yaml stage {stage} misses deps"


def test_the_walker_sees_top_level_and_lazy_imports():
    closure = import_closure("deltahall.cli", STAGE_MODULES["coin-train"])
    names = {str(p.relative_to(SRC)) for p in closure}
    # cli imports config at the top and raw_data inside a function; coin reaches theory
    assert {
        "deltahall/config.py",
        "deltahall/raw_data.py",
        "deltahall/coin/stage.py",
        "deltahall/theory/__init__.py",
        "deltahall/theory/hallucination.py",
    } <= names
    assert "deltahall/t2i/stage.py" not in names


def test_a_sweep_stage_depends_on_the_code_of_the_experiment_it_sweeps():
    """sweep/stage.py imports the experiment's module by name: a change to the coin trainer
    must rerun sweep_coin, not only coin_train."""
    names = {
        str(p.relative_to(SRC))
        for p in import_closure(*stage_roots(stage_commands()["sweep_coin"]))
    }
    assert {
        "deltahall/sweep/coin.py",
        "deltahall/coin/step.py",
        "deltahall/coin/kernels.py",
    } <= names
    assert "deltahall/sweep/t2i.py" not in names


@pytest.mark.parametrize("stage", sorted(set(stage_commands()) - {"validate"}))
def test_every_stage_waits_for_the_validate_stage(stage: str):
    """DVC deletes a stage's outputs before running it: bad params must stop at `validate`."""
    assert "outputs/validate/ok" in stage_deps(stage)


if __name__ == "__main__":  # print what each stage misses: `python tests/test_dvc_deps.py`
    for stage in sorted(stage_commands()):
        print(stage, missing_deps(stage))
