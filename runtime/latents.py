"""Seeds -> latents.

Each image's latent is drawn from its own seed, so image k is the same whether it is made
alone or inside a batch of 64, on any backend, in any order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import ImggenError

MAX_SEED = 2**63 - 1


def latent_for_seed(seed: int, latent_dim: int) -> np.ndarray:
    """A standard-normal float32 vector from numpy's PCG64 seeded with `seed`."""
    if not 0 <= seed <= MAX_SEED:
        raise ImggenError(f"seed must be an integer in 0..2**63-1, got {seed}")
    rng = np.random.Generator(np.random.PCG64(seed))
    return rng.standard_normal(latent_dim, dtype=np.float32)


def latents_for_seeds(
    seeds: Sequence[int], latent_dim: int, truncation: float = 1.0, out: np.ndarray | None = None
) -> np.ndarray:
    """(len(seeds), latent_dim) float32, optionally into a preallocated buffer.

    Truncation scales each latent towards the mean of the prior (psi * z): 1.0 leaves it as
    drawn, smaller values trade variety for typical, cleaner images.
    """
    if not 0.0 < truncation <= 1.0:
        raise ImggenError(f"truncation must be in (0, 1], got {truncation}")
    if out is None:
        out = np.empty((len(seeds), latent_dim), dtype=np.float32)
    elif out.shape != (len(seeds), latent_dim) or out.dtype != np.float32:
        raise ImggenError(f"latent buffer must be float32 {(len(seeds), latent_dim)}")
    for row, seed in zip(out, seeds, strict=True):
        row[:] = latent_for_seed(int(seed), latent_dim)
    if truncation != 1.0:
        out *= np.float32(truncation)
    return out
