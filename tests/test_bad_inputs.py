"""Bad params and bad data, through the path a user takes: `dvc repro` (and the CLI for the
coin datasets that a stage makes). Each case must fail with a message naming the key, file or
row, and change nothing under outputs/, metrics/, plots/, data/, the MLflow store or dvc.lock.

One smoke pipeline is reproduced once for the whole module; each case breaks one input, runs,
checks, and puts the input back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from scratch_repo import BIN, REPO, make_scratch_repo, run, sh, snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from deltahall.config import profile_params

    repo = make_scratch_repo(
        tmp_path_factory.mktemp("bad") / "repo",
        profile_params("smoke", REPO / "params.yaml", REPO / "profiles"),
    )
    sh(repo, str(BIN / "deltahall"), "data", "--no-push")
    sh(repo, str(BIN / "dvc"), "repro")
    return repo


def _set(path: tuple[str, ...], value) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def _drop(path: tuple[str, ...]) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        node = raw
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return edit


def _both(*edits: Callable[[dict], None]) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        for one in edits:
            one(raw)

    return edit


# (id, edit of the params data, fragment the message must hold)
PARAMS_CASES = [
    ("unknown-top-key", _set(("colour",), 1), "colour: unknown key"),
    ("unknown-nested-key", _set(("coin", "train", "epochz"), 3), "coin.train.epochz: unknown key"),
    ("bool-for-int", _set(("coin", "train", "epochs"), True), "coin.train.epochs"),
    ("str-for-int", _set(("coin", "train", "epochs"), "3"), "coin.train.epochs"),
    ("zero-epochs", _set(("coin", "train", "epochs"), 0), "coin.train.epochs"),
    ("negative-lr", _set(("coin", "train", "lr"), -1.0), "coin.train.lr"),
    ("delta-above-1", _set(("coin", "eval", "delta"), 1.5), "coin.eval.delta"),
    (
        "delta-at-an-atom",
        _set(("coin", "eval", "delta"), 0.25),
        "coin.eval.delta: 0.25 lies within",
    ),
    ("bad-rounding", _set(("coin", "eval", "rounding"), "floor"), "coin.eval.rounding"),
    ("heads-divide", _set(("coin", "model", "n_heads"), 3), "divisible"),
    ("zero-shrink", _set(("coin_hidden", "shrink"), 0), "coin_hidden.shrink"),
    ("missing-key", _drop(("coin", "train", "epochs")), "coin.train.epochs: missing key"),
    ("missing-section", _drop(("t2i",)), "t2i: missing key"),
    ("bad-tracking-uri", _set(("tracking", "uri"), "mlflow.db"), "tracking.uri"),
    ("str-for-bool", _set(("tracking", "required"), "yes"), "tracking.required"),
    ("qa-delta-1", _set(("qa", "eval", "delta"), 1.0), "qa.eval.delta"),
    ("qa-grid-repeat", _set(("qa", "grid", "epochs"), [2, 2]), "qa.grid"),
    ("qa-hidden-heads", _set(("qa", "model", "num_heads"), 3), "qa.model"),
    ("qa-val-0", _set(("qa", "val_fraction"), 0.0), "qa.val_fraction"),
    (
        "qa-missing-file",
        _both(
            _set(("qa", "source"), "files"), _set(("qa", "questions_path"), "data/qa/none.jsonl")
        ),
        "data/qa/none.jsonl",
    ),
    ("qa-source", _set(("qa", "source"), "web"), "qa.source"),
    ("qa-negative-max", _set(("qa", "max_questions"), -1), "qa.max_questions"),
    ("qa-empty-targets", _set(("qa", "lora", "target_modules"), []), "qa.lora.target_modules"),
    ("qa-target-above-1", _set(("qa", "eval", "confidence_targets"), [1.5]), "confidence_targets"),
    (
        "t2i-prompt-name",
        _set(("t2i", "prompts"), [{"name": "Zero!", "text": "x"}]),
        "t2i.prompts.0",
    ),
    (
        "t2i-precision",
        _set(("t2i", "train", "mixed_precision"), "fp8"),
        "t2i.train.mixed_precision",
    ),
    ("t2i-k-1", _set(("t2i", "sample", "k"), 1), "t2i.sample.k"),
    ("t2i-template", _set(("t2i", "caption_templates"), ["no slot"]), "{}"),
    ("sweep-storage", _set(("sweep", "storage"), "redis://host"), "sweep.storage"),
    ("sweep-sampler", _set(("sweep", "sampler"), "grid"), "sweep.sampler"),
    (
        "sweep-knob",
        _set(("sweep", "coin", "space", "width"), {"type": "int", "low": 1, "high": 2}),
        "['width']",
    ),
    (
        "sweep-log-zero",
        _set(
            ("sweep", "qa", "space", "lr"), {"type": "float", "low": 0.0, "high": 1.0, "log": True}
        ),
        "sweep.qa.space.lr",
    ),
    ("detector-quantile", _set(("detector", "quantile"), 1.5), "detector.quantile"),
    ("detector-components", _set(("detector", "min_components"), 9), "min_components"),
    ("clip-heads", _set(("clip", "heads"), 3), "clip"),
    ("images-dataset", _set(("images", "dataset"), "cifar"), "images.dataset"),
    ("images-class", _set(("images", "classes"), ["zero", "banana"]), "banana"),
    ("profile-int", _set(("profile",), 5), "profile"),
]

# (id, params.yaml text made from the good text, what `dvc repro` says, what `deltahall validate`
# says). A file DVC cannot read or interpolate is refused by DVC itself, before any stage.
TEXT_CASES = [
    ("empty-file", lambda text: "", "Could not find 'coin.n_choose'", "empty params file"),
    (
        "duplicate-key",
        lambda text: text + "\nprofile: smoke\n",
        "unable to read: 'params.yaml'",
        "duplicate key on line",
    ),
    (
        "truncated-file",
        lambda text: text[: text.index("qa:")],
        "qa: missing key",
        "qa: missing key",
    ),
    (
        "not-yaml",
        lambda text: text + "\ncoin: [unclosed\n",
        "unable to read: 'params.yaml'",
        "not valid YAML",
    ),
    (
        "top-level-list",
        lambda text: "- 1\n- 2\n",
        "got 'list' in file 'params.yaml'",
        "top level must be a mapping",
    ),
]


def _jsonl_line3_bad_byte(path: Path) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2][:10] + b"\xff" + lines[2][10:]
    path.write_bytes(b"\n".join(lines))


def _npy_garbage(path: Path) -> None:
    path.write_bytes(b"this is not a numpy file")


def _npy_truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1000])


def _labels(values: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        np.save(path, values(np.load(path)))

    return edit


Q, T, IMG, LAB = (
    "data/qa/open_questions.jsonl",
    "data/qa/truthfulqa_mini.csv",
    "data/images/digits_images.npy",
    "data/images/digits_labels.npy",
)
DATA_CASES = [
    ("jsonl-not-utf8", Q, _jsonl_line3_bad_byte, f"{Q}: line 3: not UTF-8"),
    ("jsonl-empty", Q, lambda p: p.write_text(""), f"{Q}: whole file: no questions"),
    ("jsonl-bad-json", Q, lambda p: p.write_text(p.read_text() + "{oops\n"), f"{Q}: line"),
    (
        "jsonl-one-answer",
        Q,
        lambda p: p.write_text(
            p.read_text() + '{"id": "x1", "question": "Q?", "answers": ["a"], "topic": "t"}\n'
        ),
        "'answers' must be a list of exactly 2",
    ),
    (
        "csv-missing-column",
        T,
        lambda p: p.write_text(p.read_text().replace("Incorrect Answers", "Wrong", 1)),
        f"{T}: header (line 1)",
    ),
    (
        "csv-header-only",
        T,
        lambda p: p.write_text(p.read_text().splitlines()[0] + "\n"),
        f"{T}: whole file: no data rows",
    ),
    ("csv-not-utf8", T, lambda p: p.write_bytes(p.read_bytes() + b"\xfe\xff,x\n"), f"{T}: line"),
    ("npy-garbage", IMG, _npy_garbage, f"{IMG}: not a readable .npy"),
    ("npy-truncated", IMG, _npy_truncated, f"{IMG}: not a readable .npy"),
    ("labels-length", LAB, _labels(lambda a: a[:-5]), f"{LAB}: "),
    (
        "labels-range",
        LAB,
        _labels(lambda a: np.where(np.arange(len(a)) == 7, 12, a)),
        f"{LAB}: row 7: label 12",
    ),
    ("labels-float", LAB, _labels(lambda a: a.astype(np.float64)), "1-d integer array"),
    (
        "images-range",
        IMG,
        _labels(lambda a: np.where(np.arange(a.size).reshape(a.shape) == 70, 99, a)),
        f"{IMG}: row 1: grey levels",
    ),
]


def _repro_refuses(repo: Path, fragment: str) -> None:
    before = snapshot(repo)
    out = run(repo, str(BIN / "dvc"), "repro")
    said = out.stdout + out.stderr
    assert out.returncode != 0, said
    assert fragment in said, said
    assert "Running stage 'validate'" in said and said.count("Running stage") == 1, said
    return before


@pytest.mark.parametrize("case", PARAMS_CASES, ids=[c[0] for c in PARAMS_CASES])
def test_bad_params_are_refused_by_dvc_repro_and_change_nothing(built_repo: Path, case):
    _, edit, fragment = case
    params_file = built_repo / "params.yaml"
    good = params_file.read_text()
    before = snapshot(built_repo)
    raw = yaml.safe_load(good)
    edit(raw)
    params_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        _repro_refuses(built_repo, fragment)
        assert snapshot(built_repo) == before
    finally:
        params_file.write_text(good)


@pytest.mark.parametrize("case", TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
def test_broken_params_files_are_refused_and_change_nothing(built_repo: Path, case):
    _, make_text, dvc_says, cli_says = case
    params_file = built_repo / "params.yaml"
    good = params_file.read_text()
    before = snapshot(built_repo)
    params_file.write_text(make_text(good))
    try:
        out = run(built_repo, str(BIN / "dvc"), "repro")
        said = out.stdout + out.stderr
        assert out.returncode != 0 and dvc_says in said, said
        assert "Running stage" not in said.replace("Running stage 'validate'", ""), said
        out = run(built_repo, str(BIN / "deltahall"), "validate")
        assert out.returncode == 2 and "params.yaml: " in out.stderr and cli_says in out.stderr
    finally:
        params_file.write_text(good)
    assert snapshot(built_repo) == before


@pytest.mark.parametrize("case", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data_is_refused_by_dvc_repro_and_changes_nothing(built_repo: Path, case):
    _, rel, edit, fragment = case
    path, params_file = built_repo / rel, built_repo / "params.yaml"
    good, good_params = path.read_bytes(), params_file.read_text()
    before = snapshot(built_repo)
    if rel.startswith("data/qa/"):  # the QA files are read with qa.source: files (paper's)
        raw = yaml.safe_load(good_params)
        raw["qa"]["source"] = "files"
        params_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    edit(path)
    try:
        _repro_refuses(built_repo, fragment)
    finally:
        path.write_bytes(good)
        params_file.write_text(good_params)
    assert snapshot(built_repo) == before


def _coin_npz(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
        edit(arrays)
        np.savez(path, **arrays)

    return change


COIN_CASES = [
    ("npz-truncated", lambda p: p.write_bytes(p.read_bytes()[:200]), "not a readable coin dataset"),
    ("npz-garbage", lambda p: p.write_bytes(b"garbage" * 10), "not a readable coin dataset"),
    ("npz-missing-array", _coin_npz(lambda a: a.pop("heads")), "missing array(s) heads"),
    (
        "npz-ids-range",
        _coin_npz(lambda a: a["coin_ids"].__setitem__((3, 0), 99)),
        "row 3: coin_ids must lie in 0..3",
    ),
    (
        "npz-length",
        _coin_npz(lambda a: a.__setitem__("heads", a["heads"][:-1])),
        "disagree on the number of examples",
    ),
]


@pytest.mark.parametrize("case", COIN_CASES, ids=[c[0] for c in COIN_CASES])
def test_a_bad_seed_dataset_stops_coin_train_before_any_seed_trains(built_repo: Path, case):
    """Seed 1's dataset is broken: seed 0 must not be retrained nor its history rewritten."""
    _, edit, fragment = case
    path = built_repo / "outputs/coin/observed/n2/data/seed1.npz"
    good = path.read_bytes()
    before = snapshot(built_repo)
    edit(path)
    try:
        out = run(built_repo, str(BIN / "deltahall"), "coin-train", "--n-choose", "2")
        assert out.returncode == 2, out.stdout + out.stderr
        assert f"{path.relative_to(built_repo)}: " in out.stderr and fragment in out.stderr
        assert "Traceback" not in out.stderr
    finally:
        path.write_bytes(good)
    assert snapshot(built_repo) == before
