"""Rewrite the `src/deltahall/...` deps of every dvc.yaml stage to the modules its command
imports (tests/import_graph.py), keeping every other dep, the order and the comments.

    .venv/bin/python scripts/dvc_deps.py   # then `git diff dvc.yaml`; tests/test_dvc_deps.py
                                            # checks the result
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from import_graph import import_closure, stage_roots  # noqa: E402

THEORY = "src/deltahall/theory"  # a folder dep: every theory module, whichever a stage reaches


def src_deps(argv: list[str]) -> list[str]:
    files = sorted(str(p.relative_to(REPO)) for p in import_closure(*stage_roots(argv)))
    theory = [f for f in files if f.startswith(THEORY + "/")]
    return ([THEORY] if theory else []) + [f for f in files if f not in theory]


def main() -> None:
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    path = REPO / "dvc.yaml"
    doc = yaml.load(path)
    for body in doc["stages"].values():
        stage = body.get("do", body)
        kept = [d for d in stage.get("deps", []) if not str(d).startswith("src/deltahall")]
        stage["deps"].clear()
        stage["deps"].extend(kept + src_deps(shlex.split(stage["cmd"])))
    yaml.dump(doc, path)


if __name__ == "__main__":
    main()
