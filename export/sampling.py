"""Sample grids from a torch generator, drawn from the same seeds the runtime uses."""

from __future__ import annotations

import numpy as np
import torch

from ..grid import composite, contact_sheet
from ..latents import latents_for_seeds
from ..postprocess import denormalize
from .models import GanConfig, Generator


@torch.no_grad()
def generate_torch(
    generator: Generator, seeds: list[int], classes: list[int] | None = None
) -> np.ndarray:
    """Float32 NCHW images for the given seeds (and classes), exactly as exported."""
    z = torch.from_numpy(latents_for_seeds(seeds, generator.config.latent_dim))
    c = torch.tensor(classes, dtype=torch.int64) if classes is not None else None
    return generator.eval()(z, c).numpy()


# RGBA samples are shown on a light and a dark background, so alpha edges (halos, holes) show.
BACKGROUNDS = {"": "light", "_dark": "dark"}


def sample_grid(
    generator: Generator, config: GanConfig, class_names: tuple[str, ...] | list[str]
) -> dict[str, np.ndarray]:
    """One row per class (10 seeds each) for conditional models, 8x8 seeds otherwise: {file
    suffix: grid}, one grid, or for RGBA models one on a light and one on a dark background.

    In OpenCV's channel order, ready for cv2.imwrite.
    """
    if config.num_classes:
        cols = 10
        seeds = list(range(cols)) * config.num_classes
        classes = [c for c in range(config.num_classes) for _ in range(cols)]
    else:
        cols, seeds, classes = 8, list(range(64)), None
    images = generate_torch(generator, seeds, classes)
    if config.channels == 4:
        bgra = denormalize(images, -1.0, 1.0, "bgr")
        return {
            suffix: contact_sheet(composite(bgra, background), columns=cols)
            for suffix, background in BACKGROUNDS.items()
        }
    frames = denormalize(images, -1.0, 1.0, "bgr" if config.channels == 3 else "gray")
    return {"": contact_sheet(frames, columns=cols)}
