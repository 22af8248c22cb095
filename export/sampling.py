"""Sample grids from a torch generator, drawn from the same seeds the runtime uses."""

from __future__ import annotations

import numpy as np
import torch

from ..grid import contact_sheet
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


# RGBA samples are shown composited on both, so alpha edges (halos, holes) are visible.
BACKGROUNDS = {"": 236, "_dark": 24}


def composite(rgba: np.ndarray, grey: int) -> np.ndarray:
    """(N, H, W, 4) straight-alpha uint8 over a flat grey -> (N, H, W, 3) uint8."""
    alpha = rgba[..., 3:].astype(np.float32) / 255
    out = rgba[..., :3].astype(np.float32) * alpha + np.float32(grey) * (1 - alpha)
    return (out + 0.5).astype(np.uint8)


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
        rgb = denormalize(np.ascontiguousarray(images[:, :3]), -1.0, 1.0, "bgr")
        alpha = denormalize(np.ascontiguousarray(images[:, 3:]), -1.0, 1.0, "gray")
        rgba = np.concatenate([rgb, alpha], axis=3)
        return {
            suffix: contact_sheet(composite(rgba, grey), columns=cols)
            for suffix, grey in BACKGROUNDS.items()
        }
    frames = denormalize(images, -1.0, 1.0, "bgr" if config.channels == 3 else "gray")
    return {"": contact_sheet(frames, columns=cols)}
