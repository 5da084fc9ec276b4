"""Pure pieces: image grids, the t2i params section, captions and training images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deltahall.config import ConfigError, parse_params, profile_params
from deltahall.t2i.data import load_train_images, make_captions
from deltahall.t2i.grid import image_grid, save_png

from params_helpers import committed_with

REPO = Path(__file__).resolve().parents[2]


def test_grid_places_each_image_and_frames_the_flagged(tmp_path: Path):
    images = np.zeros((5, 3, 2, 2), np.float32)
    for i in range(5):
        images[i] = i / 4.0
    grid = image_grid(images, n_cols=3, pad=1, flags=np.array([0, 1, 0, 0, 0], bool))
    assert grid.shape == (2 * 3 + 1, 3 * 3 + 1, 3) and grid.dtype == np.uint8
    assert (grid[1:3, 1:3] == 0).all()  # image 0, top-left
    assert (grid[4:6, 4:6] == 255).all()  # image 4 (value 1): row 1, col 1
    assert (grid[1:3, 7:9] == round(2 / 4 * 255)).all()  # image 2: row 0, col 2
    assert tuple(grid[0, 4]) == (220, 30, 30)  # frame above image 1 (flagged)
    assert tuple(grid[6, 1]) == (255, 255, 255)  # padding below image 3: white
    path = save_png(grid, tmp_path / "g" / "grid.png", scale=4)
    with Image.open(path) as img:
        assert img.size == (40, 28)
    with pytest.raises(ValueError, match=r"\(n, 3, H, W\)"):
        image_grid(np.zeros((2, 1, 4, 4)))


@pytest.mark.parametrize(
    "t2i, key, fragment",
    [
        ({"prompts": [{"name": "Zero!", "text": "x"}]}, "t2i.prompts.0", "must match"),
        ({"prompts": [{"name": "a", "text": "x"}, {"name": "a", "text": "y"}]}, "t2i", "repeat"),
        ({"caption_templates": ["no slot"]}, "t2i", "{}"),
        ({"model": {"block_out_channels": [20, 40]}}, "t2i.model", "divisible"),
        ({"resolution": 10, "model": {"block_out_channels": [16, 32, 64]}}, "t2i", "resolution"),
        ({"sample": {"k": 1}}, "t2i.sample.k", "greater than or equal to 2"),
        (
            {"train": {"mixed_precision": "fp8"}},
            "t2i.train.mixed_precision",
            "'no', 'fp16' or 'bf16'",
        ),
        ({"seedz": [0]}, "t2i.seedz", "unknown key"),
    ],
)
def test_bad_t2i_values_name_their_key(t2i, key, fragment):
    with pytest.raises(ConfigError) as err:
        parse_params(committed_with({"t2i": t2i}), "p.yaml")
    assert f"  {key}: " in str(err.value) and fragment in str(err.value)


def test_smoke_and_paper_profiles_set_the_t2i_section(smoke_params):
    assert smoke_params.t2i.train.epochs <= 2 and smoke_params.t2i.seeds == [0]
    paper = parse_params(profile_params("paper", REPO / "params.yaml", REPO / "profiles"))
    assert [p.text for p in paper.t2i.prompts] == [
        "a fluffy cat sitting on a sofa",
        "a realistic photo of a friendly dog",
        "a cute pet animal",
    ]
    assert paper.t2i.model.pretrained.endswith("stable-diffusion-v1-5")


def test_captions_are_seeded_and_name_the_class():
    labels = np.array([0, 1, 1, 0, 1])
    a = make_captions(labels, ("cat", "dog"), ["a {}", "the {} here"], seed=4)
    assert a == make_captions(labels, ("cat", "dog"), ["a {}", "the {} here"], seed=4)
    assert all(("cat" in c) == (y == 0) for c, y in zip(a, labels))


def test_training_images_keep_the_fitted_classes(tmp_path: Path):
    folder = tmp_path / "images"
    folder.mkdir()
    np.save(folder / "digits_images.npy", np.arange(4 * 64).reshape(4, 8, 8) % 17)
    np.save(folder / "digits_labels.npy", np.array([3, 1, 0, 1]))
    images = load_train_images("digits", tmp_path, ["one", "three"], 8)
    assert images.labels.tolist() == [1, 0, 0] and images.class_names == ("one", "three")
    assert images.load(np.array([0, 2])).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"\['cat'\] not in the dataset"):
        load_train_images("digits", tmp_path, ["cat"], 8)


def test_afhq_images_are_read_per_batch(tmp_path: Path):
    for name, colour in (("cat", 0), ("dog", 255)):
        (tmp_path / "afhq" / "train" / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (20, 20), (colour, colour, colour)).save(
                tmp_path / "afhq" / "train" / name / f"{i}.png"
            )
    images = load_train_images("afhq", tmp_path, ["cat", "dog"], 16)
    assert images.pixels is None and images.labels.tolist() == [0, 0, 1, 1]
    batch = images.load(np.array([1, 2]))
    assert batch.shape == (2, 3, 16, 16) and batch[0].max() == 0.0
    assert batch[1].min() == pytest.approx(1.0)  # antialiased resizing rounds in float32
