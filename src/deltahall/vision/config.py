"""Typed params of the image side: images, the CLIP embedder, the HCDR detector (§6.3, App. B)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from deltahall.strict import Strict as _Strict


class ImagesConfig(_Strict):
    # digits: scikit-learn's handwritten digits in data/images (default, no download);
    # afhq: AFHQ cats and dogs in data/afhq (paper §6.3).
    dataset: Literal["digits", "afhq"]
    image_size: int = Field(ge=8, le=1024)
    # The two classes standing for the paper's cats and dogs (class names of the dataset).
    classes: list[str] = Field(min_length=1)


class ClipConfig(_Strict):
    # "" = the small open_clip CLIP built and trained here; "ViT-B-32/openai" = paper.
    pretrained: str
    embed_dim: int = Field(ge=4, le=4096)
    width: int = Field(ge=8, le=4096)
    heads: int = Field(ge=1, le=64)
    vision_layers: int = Field(ge=1, le=48)
    text_layers: int = Field(ge=1, le=48)
    patch_size: int = Field(ge=1, le=64)
    context_length: int = Field(ge=4, le=77)
    epochs: int = Field(ge=0, le=10_000)
    batch_size: int = Field(ge=2, le=100_000)
    lr: float = Field(gt=0.0, le=1.0)
    seed: int
    torch_threads: int = Field(ge=1, le=256)

    @model_validator(mode="after")
    def _heads_divide_width(self) -> ClipConfig:
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be divisible by heads ({self.heads})")
        return self


class DetectorConfig(_Strict):
    pca_dim: int = Field(ge=1, le=4096)  # paper: 128; capped by the embedding
    quantile: float = Field(gt=0.0, lt=1.0)  # 10 % quantile, paper §6.3
    fit_fraction: float = Field(gt=0.0, lt=1.0)  # 80 % fit / 20 % held out
    max_components: int = Field(ge=1, le=100)  # reference code: min(6, max(2, n // 200))
    min_components: int = Field(ge=1, le=100)
    points_per_component: int = Field(ge=1)
    reg_covar: float = Field(gt=0.0, le=1.0)
    coverage_tolerance: float = Field(gt=0.0, lt=1.0)  # |coverage − 0.9| for `champion`
    n_boot: int = Field(ge=10, le=100_000)
    mix_weights: list[float] = Field(min_length=1)
    seed: int

    @model_validator(mode="after")
    def _consistent(self) -> DetectorConfig:
        if self.min_components > self.max_components:
            raise ValueError("min_components must not exceed max_components")
        if any(not 0.0 <= w <= 1.0 for w in self.mix_weights):
            raise ValueError("mix_weights must lie in [0, 1]")
        return self
