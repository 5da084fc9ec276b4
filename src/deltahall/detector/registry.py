"""Log a fitted detector as an MLflow pyfunc model and register it, with aliases.

One registered model per (dataset, embedder); each fit adds a version tagged with the data
version and git commit. Alias `champion` moves to the new version only when every class's
held-out coverage is within tolerance of the target; otherwise the version is `challenger`.
"""

from __future__ import annotations

from importlib.metadata import version as installed_version
from pathlib import Path

import mlflow
from mlflow import MlflowClient

import deltahall
from deltahall.detector.fit import HCDRDetector
from deltahall.detector.pyfunc import ARTIFACT_KEY, CLIP_KEY, detector_signature

MODEL_CODE = Path(__file__).with_name("model_code.py")
# What loading the model needs; listed explicitly so MLflow does not import-trace the code.
_REQUIREMENTS = ("mlflow", "numpy", "pandas", "scipy")


def registered_name(dataset: str, clip_pretrained: str) -> str:
    """The registered model of the detector fitted on `dataset` with the CLIP of clip.pretrained
    ("" = the small CLIP trained here): hcdr-<dataset>-<embedder>. The detector stage registers
    under it and the t2i judge loads it; no other code spells the name."""
    return f"hcdr-{dataset}-{clip_pretrained.replace('/', '-') or 'clip-small'}"


def coverage_within_tolerance(coverages: dict[str, float], target: float, tolerance: float) -> bool:
    return all(abs(value - target) <= tolerance for value in coverages.values())


DESCRIPTION = (
    "Per-class HCDR detector (paper §5, Remark 5.1): a Gaussian mixture per class on PCA'd "
    "CLIP embeddings, thresholded at the detector.quantile quantile of held-out "
    "log-densities (the run's params). Input: raw embeddings (n, D) of the CLIP stored with "
    "it (artifact `clip`). Output per class: `log_density_<c>`, `inside_<c>`; and "
    "`hallucinated`: outside every class's HCDR. @champion: the newest version whose "
    "held-out coverage passed detector.coverage_tolerance. Judge any images with "
    "`deltahall judge-images --model models:/NAME@champion DIR`."
)


def log_and_register(
    detector: HCDRDetector,
    folder: Path,
    clip_folder: Path,
    name: str,
    tags: dict[str, str],
    champion: bool,
) -> tuple[str, str]:
    """Inside an active run: log the pyfunc, register a version, tag it, set its alias.

    Returns (version, alias). The previous champion keeps its alias when this fit fails the
    coverage check, so `models:/<name>@champion` always points at a version that passed.
    """
    info = mlflow.pyfunc.log_model(
        name="detector",
        python_model=str(MODEL_CODE),
        artifacts={ARTIFACT_KEY: str(folder), CLIP_KEY: str(clip_folder)},
        signature=detector_signature(detector),
        registered_model_name=name,
        input_example=detector.pca_mean[None, :],  # a valid (1, D) embedding, shown in the UI
        code_paths=[str(Path(deltahall.__file__).parent)],
        pip_requirements=[f"{pkg}=={installed_version(pkg)}" for pkg in _REQUIREMENTS],
    )
    version = str(info.registered_model_version)
    client = MlflowClient()
    client.update_registered_model(name, description=DESCRIPTION)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    alias = "champion" if champion else "challenger"
    client.set_registered_model_alias(name, alias, version)
    return version, alias
