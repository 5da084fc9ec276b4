"""The detector core on synthetic clusters: calibration, union test, storage, errors."""

from __future__ import annotations

import numpy as np
import pytest

from deltahall.detector.artifact import load_detector, save_detector
from deltahall.detector.fit import FitSettings, fit_detector, n_components
from deltahall.detector.quality import coverage, flagged_rate, mix_images


def clusters(n_per_class=400, dim=24, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (3, dim))
    emb = np.concatenate([c + rng.normal(0.0, 0.3, (n_per_class, dim)) for c in centres])
    return emb, np.repeat(np.arange(3), n_per_class)


@pytest.fixture(scope="module")
def fitted():
    emb, labels = clusters()
    # fit on classes 0 and 1 only; class 2 plays "a class it was not fitted on"
    keep = labels < 2
    det, held = fit_detector(emb[keep], labels[keep], ["a", "b"], FitSettings(pca_dim=8), seed=0)
    return det, held, emb, labels


def test_component_rule_is_the_reference_codes():
    s = FitSettings()
    assert [n_components(n, s) for n in (10, 399, 400, 1000, 5000)] == [2, 2, 2, 5, 6]


def test_held_out_coverage_is_one_minus_quantile(fitted):
    det, held, emb, labels = fitted
    cov = coverage(det, emb[labels < 2], held, n_boot=200, seed=0)
    for estimate, low, high in cov.values():
        assert abs(estimate - 0.9) <= 0.01 and low <= 0.9 <= high


def test_union_flags_the_unseen_class_and_not_the_seen_ones(fitted):
    det, _, emb, labels = fitted
    assert flagged_rate(det, emb[labels == 2], 100, 0)[0] > 0.95
    assert flagged_rate(det, emb[labels < 2], 100, 0)[0] < 0.2


def test_midpoints_between_classes_are_flagged(fitted):
    det, _, emb, labels = fitted
    mid = mix_images(emb[labels == 0], emb[labels == 1], 0.5)
    ends = mix_images(emb[labels == 0], emb[labels == 1], 0.0)
    assert det.predict(mid)["hallucinated"].mean() > det.predict(ends)["hallucinated"].mean() + 0.5


def test_hallucinated_means_outside_every_class(fitted):
    det, _, emb, _ = fitted
    out = det.predict(emb)
    expected = np.all(out["log_density"] <= det.thresholds, axis=1)
    np.testing.assert_array_equal(out["hallucinated"], expected)


def test_storage_round_trip_is_bit_identical(fitted, tmp_path):
    det, _, emb, _ = fitted
    loaded = load_detector(save_detector(det, tmp_path / "det"))
    assert loaded.class_names == det.class_names
    np.testing.assert_array_equal(loaded.log_densities(emb), det.log_densities(emb))
    assert not any(p.suffix in {".pkl", ".pickle"} for p in (tmp_path / "det").iterdir())


def test_wrong_dimension_is_a_clear_error(fitted):
    det = fitted[0]
    with pytest.raises(ValueError, match=r"shape \(n, 24\).*got shape \(5, 23\)"):
        det.predict(np.ones((5, 23)))


def test_same_seed_same_detector():
    emb, labels = clusters(200)
    a, _ = fit_detector(emb, labels, ["a", "b", "c"], FitSettings(pca_dim=6), seed=3)
    b, _ = fit_detector(emb, labels, ["a", "b", "c"], FitSettings(pca_dim=6), seed=3)
    np.testing.assert_array_equal(a.thresholds, b.thresholds)


def test_too_small_a_class_is_named():
    emb, labels = clusters(200)
    labels[labels == 2] = 0
    labels[0] = 2
    with pytest.raises(ValueError, match="class 2 has 1 embeddings"):
        fit_detector(emb, labels, ["a", "b", "c"], FitSettings(), seed=0)


def test_the_real_floor_flags_held_out_images_below_the_other_halfs_thresholds():
    """2-fold cross-calibration on log-densities we set by hand: a class with a mass of
    low-density images is flagged on exactly those; a smooth class near the 10 % quantile;
    an image inside another class's HCDR is not flagged."""
    from deltahall.detector.quality import cross_calibrated_flags, real_floor

    class Stub:  # log f_c(x) = x[c]: the embeddings are their own log-densities
        @staticmethod
        def log_densities(embeddings):
            return np.asarray(embeddings, dtype=float)

    # class 0: 50 points at -1 and 50 at +1 in its own column; class 1's column far below
    own = np.r_[np.full(50, -1.0), np.full(50, 1.0)]
    held = [np.c_[own, np.full(100, -9.0)], np.c_[np.full(100, -9.0), np.linspace(0, 1, 100)]]
    flags = cross_calibrated_flags(Stub(), held, 0.1, seed=0)
    assert [f.shape for f in flags] == [(100,), (100,)]
    # every threshold is -1 (a half holds >= 10 % of -1s) or between: -1s are never inside
    assert flags[0][own < 0].all() and not flags[0][own > 0].any()
    floor = real_floor(flags, ["a", "b"], 100, seed=0)
    assert floor["a"]["flagged"] == 50 and floor["all"]["n"] == 200
    assert 0.05 <= floor["b"]["rate"] <= 0.2  # a smooth class: about the quantile
    held[0][own < 0, 1] = 0.5  # the low images of class 0 now lie inside class 1's HCDR
    assert not cross_calibrated_flags(Stub(), held, 0.1, seed=0)[0].any()
