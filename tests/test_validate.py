"""`deltahall validate`: the params and every raw input they select, each fault named."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from deltahall.cli import main

from params_helpers import committed_with

REPO = Path(__file__).resolve().parents[1]


def _project(tmp_path: Path, monkeypatch, overlay: dict | None = None) -> Path:
    shutil.copytree(REPO / "src/deltahall/resources/data", tmp_path / "data")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(committed_with(overlay)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_good_inputs_pass_and_write_the_constant_stamp(tmp_path: Path, monkeypatch, capsys):
    _project(tmp_path, monkeypatch)
    assert main(["validate", "--stamp", "outputs/validate/ok"]) == 0
    # qa.source: world reads what the world stage writes, so only the images are raw inputs
    assert "inputs ok: data/images" in capsys.readouterr().out
    assert (tmp_path / "outputs/validate/ok").read_text() == "params and raw inputs validated\n"
    _project(tmp_path / "files", monkeypatch, {"qa": {"source": "files"}})
    assert main(["validate"]) == 0
    assert "inputs ok: data/qa/open_questions.jsonl" in capsys.readouterr().out


def test_a_truncated_afhq_image_is_named(tmp_path: Path, monkeypatch, capsys):
    root = _project(
        tmp_path, monkeypatch, {"images": {"dataset": "afhq", "classes": ["cat", "dog"]}}
    )
    for name in ("cat", "dog"):
        folder = root / "data/afhq/train" / name
        folder.mkdir(parents=True)
        for i in range(2):
            pixels = np.random.default_rng(i).integers(0, 255, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.jpg", quality=95)
    assert main(["validate"]) == 0
    broken = root / "data/afhq/train/dog/1.jpg"
    broken.write_bytes(broken.read_bytes()[:600])
    assert main(["validate", "--stamp", "outputs/validate/ok"]) == 2
    assert "data/afhq/train/dog/1.jpg: not a readable image" in capsys.readouterr().err
    assert not (root / "outputs").exists()


def test_a_class_folder_without_images_is_named(tmp_path: Path, monkeypatch, capsys):
    root = _project(tmp_path, monkeypatch, {"images": {"dataset": "afhq", "classes": ["cat"]}})
    (root / "data/afhq/train/cat").mkdir(parents=True)
    assert main(["validate"]) == 2
    assert "no images in data/afhq/train/cat" in capsys.readouterr().err
