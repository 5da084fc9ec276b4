"""`deltahall data`: make the DVC-tracked raw data folder `data/` present.

`data/` is versioned by DVC (`data.dvc`), its content stored in the DVC remote. A clone that
can reach the remote gets it with `dvc pull`. A fresh clone whose remote is empty (the default
remote is a local folder, `.dvc-remote/`) rebuilds it from the copy the package ships
(src/deltahall/resources/data), checks that it hashes to what data.dvc records, then caches
and pushes it so the remote is seeded. Nothing is overwritten when the hashes disagree.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

DATA_DIR = Path("data")
DVC_FILE = Path("data.dvc")


def _dvc(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("dvc")
    cmd = [str(exe) if exe.exists() else "dvc", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def shipped_data_dir() -> Path:
    return Path(str(resources.files("deltahall") / "resources" / "data"))


def materialise(target: Path = DATA_DIR) -> None:
    """Copy the shipped raw data into `target` (a fresh folder)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(shipped_data_dir(), target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _status_clean() -> tuple[bool, str]:
    out = _dvc("status", "--json", str(DVC_FILE))
    if out.returncode != 0:
        return False, out.stderr.strip()
    report = json.loads(out.stdout or "{}")
    return not report, json.dumps(report)


def ensure_raw_data(push: bool = True) -> int:
    if not DVC_FILE.exists():
        print(f"error: {DVC_FILE} missing; run from the repository root", file=sys.stderr)
        return 2
    if DATA_DIR.exists() and _status_clean()[0]:
        print("data/: present and matches data.dvc")
        return 0
    pulled = _dvc("pull", str(DVC_FILE))
    if pulled.returncode == 0 and _status_clean()[0]:
        print("data/: pulled from the DVC remote")
        return 0
    print("data/: not in the DVC remote; materialising the copy shipped with the package")
    materialise()
    committed = _dvc("commit", "--force", str(DVC_FILE))
    if committed.returncode != 0:
        print(f"error: dvc commit failed: {committed.stderr.strip()}", file=sys.stderr)
        return 1
    changed = subprocess.run(["git", "diff", "--quiet", "--", str(DVC_FILE)], check=False)
    if changed.returncode != 0:
        subprocess.run(["git", "checkout", "--", str(DVC_FILE)], check=False)
        print("error: the shipped data does not hash to what data.dvc records; "
              "data.dvc left unchanged (run `dvc add data` if the change is intended)",
              file=sys.stderr)
        return 1
    if push:
        pushed = _dvc("push", str(DVC_FILE))
        print("data/: pushed to the DVC remote" if pushed.returncode == 0
              else f"warning: dvc push failed: {pushed.stderr.strip()}")
    return 0
