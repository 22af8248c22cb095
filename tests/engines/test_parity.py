"""The parity gate's checks, each one shown to catch the failure it is for."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imggen_rt.card import ModelCard
from imggen_rt.contract import Feeds
from imggen_rt.engines.parity import (
    ParityThresholds,
    check_parity,
    gate_inputs,
    require_parity,
    run_batched,
)
from imggen_rt.errors import ImggenError

RANGE = (-1.0, 1.0)


def reference(n: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.tanh(rng.normal(0, 1, (n, 3, 8, 8))).astype(np.float32)


def test_close_output_passes() -> None:
    ref = reference()
    report = check_parity(ref, ref + np.float32(1e-3), RANGE)
    assert report.passed, report.failures
    assert report.psnr_db == pytest.approx(20 * math.log10(2 / 1e-3), abs=0.1)
    assert report.max_abs_error == pytest.approx(1e-3, rel=1e-3)


def test_nan_fails_even_when_rare() -> None:
    test = reference()
    test[2, 1, 3, 3] = np.nan
    report = check_parity(reference(), test, RANGE)
    assert report.nan_count == 1
    assert not report.passed and "1 NaN/Inf values" in report.failures
    assert report.max_abs_error < 1e-6  # the finite values still match


def test_black_image_fails() -> None:
    test = reference()
    test[1] = -1.0  # one all-black image
    report = check_parity(reference(), test, RANGE)
    assert report.blank_images == 1
    assert any("blank" in f for f in report.failures)


def test_flat_reference_images_do_not_count_as_blank() -> None:
    ref = np.full((2, 1, 4, 4), -1.0, np.float32)  # a model that draws black is not broken
    assert check_parity(ref, ref.copy(), RANGE).blank_images == 0


def test_drift_fails_on_psnr_and_max_error() -> None:
    ref = reference()
    drifted = ref + np.float32(0.05)
    drifted[0, 0, 0, 0] += 0.5
    report = check_parity(ref, drifted, RANGE)
    assert any(f.startswith("PSNR") for f in report.failures)
    assert any(f.startswith("max abs error") for f in report.failures)


def test_thresholds_are_configurable_and_reapplied() -> None:
    ref = reference()
    report = check_parity(ref, ref + np.float32(0.01), RANGE)  # 46 dB
    assert report.passed
    strict = report.judged_by(ParityThresholds(min_psnr_db=60))
    assert not strict.passed and strict.psnr_db == report.psnr_db
    with pytest.raises(ImggenError) as info:
        require_parity(strict, "the FP16 ONNX")
    message = str(info.value)
    assert "PSNR 46.0 dB < 60 dB" in message and "nothing was written" in message
    assert "\n" not in message


def test_max_error_threshold_scales_with_the_output_range() -> None:
    ref = reference() * 50 + 100  # images in [50, 150]
    shifted = ref.copy()
    shifted[0, 0, 0, 0] += 5.0  # 5% of the range of 100
    assert check_parity(ref, shifted, (50.0, 150.0)).passed
    assert not check_parity(ref, shifted, (50.0, 150.0), ParityThresholds(40, 0.04)).passed


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ImggenError, match="shape"):
        check_parity(reference(4), reference(3), RANGE)


def test_gate_inputs_cover_every_class() -> None:
    card = ModelCard(latent_dim=16, height=4, width=4, channels=1, class_names=("a", "b", "c"))
    feeds = gate_inputs(card, 7)
    assert feeds.z.shape == (7, 16) and feeds.z.dtype == np.float32
    assert feeds.class_ids is not None and feeds.class_ids.tolist() == [0, 1, 2, 0, 1, 2, 0]
    np.testing.assert_array_equal(feeds.z, gate_inputs(card, 7).z)  # fixed seeds


def test_run_batched_respects_the_profile_and_pads_short_batches() -> None:
    seen: list[int] = []
    reuse = np.empty((8, 2), np.float32)

    def infer(feeds: Feeds) -> np.ndarray:
        z, classes = feeds.z, feeds.class_ids
        assert 4 <= len(z) <= 8 and classes is not None and len(classes) == len(z)
        seen.append(len(z))
        reuse[: len(z)] = z[:, :2] + classes[:, None]
        return reuse[: len(z)]  # a reused buffer, as backends return

    z = np.arange(22, dtype=np.float32).reshape(11, 2)
    classes = np.arange(11, dtype=np.int64)
    out = run_batched(infer, Feeds(z, classes), min_batch=4, max_batch=8)
    assert seen == [8, 4]  # 3 left over, padded to the profile's minimum
    np.testing.assert_array_equal(out, z + classes[:, None])
