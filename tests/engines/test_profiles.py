"""Batch sizes -> one optimisation profile, and the option strings derived from it."""

from __future__ import annotations

import argparse

import pytest

from imggen_rt.backends.profiles import (
    BatchProfile,
    input_shapes,
    ort_trt_profile_options,
    parse_batches,
    profile_for,
)
from imggen_rt.card import ModelCard
from imggen_rt.cli.build import parse_bytes
from imggen_rt.errors import ImggenError

CONDITIONAL = ModelCard(latent_dim=128, height=32, width=32, channels=1, class_names=("a", "b"))


def test_profile_spans_the_batches_and_is_tuned_for_the_largest() -> None:
    profile = parse_batches("16, 1,8,8")
    assert profile.batches == (1, 8, 16)
    assert (profile.min, profile.opt, profile.max) == (1, 16, 16)
    assert profile.to_dict() == {"min": 1, "opt": 16, "max": 16, "batches": [1, 8, 16]}


def test_single_batch_is_a_fixed_profile() -> None:
    profile = profile_for([4])
    assert (profile.min, profile.opt, profile.max) == (4, 4, 4)


@pytest.mark.parametrize("text", ["", "0,4", "1,x", "1,5000", "-2"])
def test_bad_batch_lists_are_user_errors(text: str) -> None:
    with pytest.raises(ImggenError):
        parse_batches(text)


def test_profile_rejects_unsorted_batches() -> None:
    with pytest.raises(ImggenError, match="sorted"):
        BatchProfile((8, 1))


def test_input_shapes_follow_the_card() -> None:
    assert input_shapes(CONDITIONAL, 8) == {"z": (8, 128), "class_id": (8,)}
    plain = ModelCard(latent_dim=64, height=8, width=8, channels=3)
    assert input_shapes(plain, 2) == {"z": (2, 64)}


def test_ort_tensorrt_profile_strings() -> None:
    options = ort_trt_profile_options(CONDITIONAL, parse_batches("1,8,32"))
    assert options == {
        "trt_profile_min_shapes": "z:1x128,class_id:1",
        "trt_profile_opt_shapes": "z:32x128,class_id:32",
        "trt_profile_max_shapes": "z:32x128,class_id:32",
    }


@pytest.mark.parametrize(
    ("text", "size"),
    [("1024", 1024), ("512M", 512 << 20), ("2G", 2 << 30), ("1.5GiB", 3 << 29), ("64kb", 64 << 10)],
)
def test_workspace_sizes(text: str, size: int) -> None:
    assert parse_bytes(text) == size


@pytest.mark.parametrize("text", ["", "2X", "G", "0", "-1M"])
def test_bad_workspace_sizes(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_bytes(text)
