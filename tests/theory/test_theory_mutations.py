"""Mutation tests: break the optimal estimator, the hallucination rule or the HCDR rule in a
copy of the package, and the theory tests that guard them must fail (issue 11)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MUTANTS = {
    "hallucination rule: any state instead of every state": (
        "theory/hallucination.py",
        "return np.all(dens <= delta, axis=-1)",
        "return np.any(dens <= delta, axis=-1)",
        "test_theory_constructions.py",
    ),
    "optimal estimator: the heaviest state's mean instead of the mixture mean": (
        "theory/gaussian.py",
        "return self.probs @ self.means",
        "return self.means[int(np.argmax(self.probs))]",
        "test_theory_constructions.py",
    ),
    "construction: state N's mean not pushed out": (
        "theory/constructions.py",
        "means *= math.sqrt(max(1.0, quad_needed / quad_n))",
        "pass",
        "test_theory_constructions.py",
    ),
    "HCDR rule: inside means below the threshold": (
        "theory/hcdr.py",
        "return logd > thr",
        "return logd < thr",
        "test_theory_hcdr.py",
    ),
}


def _mutated_copy(tmp_path: Path, source: str, original: str, replacement: str) -> Path:
    shutil.copytree(ROOT / "src" / "deltahall", tmp_path / "src" / "deltahall")
    shutil.copytree(ROOT / "tests" / "theory", tmp_path / "tests" / "theory")
    for shared in ("conftest.py", "postgres_fixtures.py", "browser_fixtures.py"):  # plugins
        shutil.copy(ROOT / "tests" / shared, tmp_path / "tests" / shared)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "deltahall" / source
    text = target.read_text(encoding="utf-8")
    assert text.count(original) == 1, f"{source} no longer holds {original!r}: update the mutant"
    target.write_text(text.replace(original, replacement), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_theory_tests_kill_the_mutant(mutant: str, tmp_path: Path) -> None:
    source, original, replacement, test_file = MUTANTS[mutant]
    copy = _mutated_copy(tmp_path, source, original, replacement)
    env = {"PYTHONPATH": str(copy / "src"), "PATH": str(Path(sys.executable).parent)}
    which = subprocess.run(
        [sys.executable, "-c", "import deltahall; print(deltahall.__file__)"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert which.stdout.startswith(str(copy)), which.stdout  # the mutant is what gets imported
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            f"tests/theory/{test_file}",
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 1 and " failed" in summary and "error" not in summary, summary
