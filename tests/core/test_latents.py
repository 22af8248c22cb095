from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imggen_rt import ImggenError
from imggen_rt.latents import latent_for_seed, latents_for_seeds


@given(st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=20), st.integers(1, 64))
def test_each_latent_depends_only_on_its_seed(seeds: list[int], dim: int) -> None:
    batch = latents_for_seeds(seeds, dim)
    for row, seed in zip(batch, seeds, strict=True):
        np.testing.assert_array_equal(row, latent_for_seed(seed, dim))


def test_latents_are_standard_normal_and_distinct() -> None:
    z = latents_for_seeds(list(range(2000)), 64)
    assert z.dtype == np.float32
    assert abs(float(z.mean())) < 0.02
    assert abs(float(z.std()) - 1) < 0.02
    assert not np.array_equal(z[0], z[1])


def test_truncation_scales_towards_the_mean() -> None:
    full = latents_for_seeds([3, 4], 16)
    half = latents_for_seeds([3, 4], 16, truncation=0.5)
    np.testing.assert_allclose(half, full * 0.5)


@pytest.mark.parametrize("truncation", [0.0, -0.5, 1.5])
def test_bad_truncation(truncation: float) -> None:
    with pytest.raises(ImggenError, match="truncation"):
        latents_for_seeds([1], 4, truncation=truncation)


def test_bad_seed() -> None:
    with pytest.raises(ImggenError, match="seed must be"):
        latents_for_seeds([-1], 4)
