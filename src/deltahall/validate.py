"""Stage `validate`: the whole params file and every raw input, checked before any stage runs.

DVC deletes a stage's outputs before its command starts, so a stage that refuses bad input has
already lost its models and metrics. Every stage of dvc.yaml depends on this stage's stamp:
bad params or bad data stop here, and nothing downstream is touched. The stamp's content is
constant, so a rerun of this stage never reruns the stages after it.
"""

from __future__ import annotations

from pathlib import Path

from deltahall import paths
from deltahall.config import Params

STAMP_TEXT = "params and raw inputs validated\n"


def check_inputs(params: Params) -> list[str]:
    """Every raw input the params select, read as the stages read it (torch-free)."""
    from deltahall.qa.data import load_qa_data
    from deltahall.vision.images import DIGIT_NAMES, afhq_files, read_digits_arrays

    checked = []
    if params.qa.source == "files":  # world: the world stage writes them (checked there)
        load_qa_data(params.qa)
        checked += [params.qa.questions_path, params.qa.truthfulqa_path]
    if params.images.dataset == "digits":
        read_digits_arrays(paths.DATA)
        _check_classes(params.images.classes, DIGIT_NAMES)
        checked.append("data/images")
    else:
        _check_images(afhq_files(paths.DATA / "afhq", tuple(params.images.classes)))
        checked.append("data/afhq")
    return checked


def _check_classes(classes: list[str], known: tuple[str, ...]) -> None:
    unknown = [c for c in classes if c not in known]
    if unknown:
        raise ValueError(f"images.classes: {unknown} not among the dataset's classes {list(known)}")


def _check_images(files_by_class: list[list[Path]]) -> None:
    from PIL import Image

    for files in files_by_class:
        for path in files:
            try:
                with Image.open(path) as img:
                    img.load()  # decodes the pixels, not only the structure (verify())
            except (OSError, SyntaxError, ValueError) as err:
                raise ValueError(f"{path}: not a readable image ({err})") from None


def run_validate(params: Params, params_path: Path, stamp: Path | None) -> None:
    checked = check_inputs(params)
    if stamp is not None:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(STAMP_TEXT)
    print(f"{params_path}: ok (profile {params.profile}); inputs ok: {', '.join(checked)}")
