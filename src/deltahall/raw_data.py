"""`deltahall data`: make the DVC-tracked raw data folder `data/` present, never destroying it.

`data/` is versioned by DVC (`data.dvc`), its content stored in the DVC remote.
- `data/` present and matching data.dvc: nothing to do.
- `data/` present but different (an edited file, a user's own folder such as data/afhq/): stop,
  list the changed files and change nothing; the user decides (`dvc add data` to record the
  change, `dvc checkout data.dvc` to restore the recorded version).
- `data/` absent: `dvc pull`. Only when the remote lacks the data (a fresh clone of a project
  whose default remote is the local, empty `.dvc-remote/`) is the copy shipped in the package
  (src/deltahall/resources/data) laid down, and kept only if it hashes to what data.dvc
  records; the remote is then seeded with it. Any other pull failure is a failure.
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
# What `dvc pull` prints when the remote simply lacks the objects (not a network error).
MISSING_IN_REMOTE = ("Missing cache files", "do not exist neither locally nor on remote")


def _dvc(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("dvc")
    cmd = [str(exe) if exe.exists() else "dvc", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def shipped_data_dir() -> Path:
    return Path(str(resources.files("deltahall") / "resources" / "data"))


def _matches_dvc_file() -> bool:
    """data/ hashes to what data.dvc records ("not in cache" only means DVC's cache lacks a
    copy, as in a fresh clone; the files themselves match)."""
    out = _dvc("status", "--json", str(DVC_FILE))
    if out.returncode != 0:
        return False
    states = [
        state
        for entry in json.loads(out.stdout or "{}").get(str(DVC_FILE), [])
        for state in entry.get("changed outs", {"?": "changed"}).values()
    ]
    return all(state == "not in cache" for state in states)


def changed_files() -> list[str]:
    """Files under data/ that differ from what data.dvc records, as 'modified: data/x' lines."""
    out = _dvc("data", "status", "--granular", "--json")
    report = json.loads(out.stdout or "{}") if out.returncode == 0 else {}
    lines = [
        f"{kind}: {path}"
        for kind, paths in report.get("uncommitted", {}).items()
        for path in paths
        if path.startswith(f"{DATA_DIR}/") and path != f"{DATA_DIR}/"
    ]
    return sorted(lines) or [
        "(dvc could not list the files: the recorded version is not in "
        "the cache; `dvc fetch data.dvc` then rerun)"
    ]


def _refuse_changed() -> int:
    print(f"error: {DATA_DIR}/ differs from {DVC_FILE}; nothing was changed:", file=sys.stderr)
    for line in changed_files():
        print(f"  {line}", file=sys.stderr)
    print(
        f"  `dvc add {DATA_DIR}` records your version; `dvc checkout {DVC_FILE}` restores the "
        "recorded one (your changes are then lost)",
        file=sys.stderr,
    )
    return 1


def _lay_shipped_copy(push: bool) -> int:
    shutil.copytree(
        shipped_data_dir(), DATA_DIR, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    if not _matches_dvc_file():
        shutil.rmtree(DATA_DIR)  # ours, made a moment ago: nothing of the user's is removed
        print(
            f"error: the remote lacks {DATA_DIR}/ and the copy shipped with the package does "
            f"not hash to what {DVC_FILE} records",
            file=sys.stderr,
        )
        return 1
    committed = _dvc("commit", "--force", str(DVC_FILE))  # into the cache, for push
    if committed.returncode != 0:
        print(f"error: dvc commit failed: {committed.stderr.strip()}", file=sys.stderr)
        return 1
    print(
        f"{DATA_DIR}/: the remote lacked it; laid down the copy shipped with the package "
        f"(hash matches {DVC_FILE})"
    )
    if push:
        pushed = _dvc("push", str(DVC_FILE))
        if pushed.returncode != 0:
            print(f"error: dvc push failed: {pushed.stderr.strip()}", file=sys.stderr)
            return 1
        print(f"{DATA_DIR}/: pushed to the DVC remote")
    return 0


def ensure_raw_data(push: bool = True) -> int:
    if not DVC_FILE.exists():
        print(f"error: {DVC_FILE} missing; run from the repository root", file=sys.stderr)
        return 2
    if DATA_DIR.exists():
        if _matches_dvc_file():
            print(f"{DATA_DIR}/: present and matches {DVC_FILE}")
            return 0
        return _refuse_changed()
    pulled = _dvc("pull", str(DVC_FILE))
    if pulled.returncode == 0 and _matches_dvc_file():
        print(f"{DATA_DIR}/: pulled from the DVC remote")
        return 0
    said = pulled.stdout + pulled.stderr
    if not any(marker in said for marker in MISSING_IN_REMOTE):
        print(f"error: dvc pull failed:\n{said.strip()}", file=sys.stderr)
        return 1
    if DATA_DIR.exists():  # a partial checkout of ours: DVC made it from nothing
        shutil.rmtree(DATA_DIR)
    return _lay_shipped_copy(push)
