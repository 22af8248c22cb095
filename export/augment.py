"""Differentiable augmentation for data-efficient GAN training (DiffAugment, Zhao et al. 2020).

With a few thousand images a discriminator memorises the training set and stops teaching the
generator. Augmenting what it sees -- real and fake alike, with operations gradients pass
through -- keeps it from memorising without teaching the generator to make augmented images:
the generator is judged only through the same random transforms as the data.

Three policies, each drawn per image from the trainer's own random generator (so a resumed run
augments as an uninterrupted one would): colour (brightness, saturation, contrast of the RGB
channels; alpha, when present, is coverage and is left alone), translation (up to 1/8 of the
side, zero padding) and cutout (a square of half the side set to zero). Images are in [-1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def diff_augment(x: torch.Tensor, policy: str, rng: torch.Generator) -> torch.Tensor:
    """x (B, C, H, W) in [-1, 1] -> augmented, differentiably; policy: comma-separated names."""
    for name in (p for p in policy.split(",") if p):
        x = _POLICY[name](x, rng)
    return x


def _uniform(x: torch.Tensor, rng: torch.Generator, low: float, high: float) -> torch.Tensor:
    u = torch.rand(x.shape[0], 1, 1, 1, generator=rng)
    return (low + (high - low) * u).to(x.dtype)


def _colour(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    rgb, rest = x[:, :3], x[:, 3:]
    rgb = rgb + _uniform(x, rng, -0.5, 0.5)  # brightness
    mean = rgb.mean(dim=1, keepdim=True)
    rgb = (rgb - mean) * _uniform(x, rng, 0.0, 2.0) + mean  # saturation
    mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
    rgb = (rgb - mean) * _uniform(x, rng, 0.5, 1.5) + mean  # contrast
    return torch.cat([rgb, rest], dim=1) if rest.shape[1] else rgb


def _translation(x: torch.Tensor, rng: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (b, 1, 1), generator=rng)
    dx = torch.randint(-sx, sx + 1, (b, 1, 1), generator=rng)
    gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    # Index into a zero-padded copy: pixels shifted in from outside are zero.
    ys = (gy[None] + dy).clamp(-1, h) + 1
    xs = (gx[None] + dx).clamp(-1, w) + 1
    padded = F.pad(x, (1, 1, 1, 1))
    flat = padded.permute(0, 2, 3, 1)[torch.arange(b)[:, None, None], ys, xs]
    return flat.permute(0, 3, 1, 2).contiguous()


def _cutout(x: torch.Tensor, rng: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # The square's corner anywhere from half outside the top/left edge to half outside the
    # bottom/right one.
    top = torch.randint(-(ch // 2), h - ch // 2 + 1, (b, 1, 1), generator=rng)
    left = torch.randint(-(cw // 2), w - cw // 2 + 1, (b, 1, 1), generator=rng)
    gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    inside = (gy[None] >= top) & (gy[None] < top + ch) & (gx[None] >= left) & (gx[None] < left + cw)
    return x * (~inside).to(x.dtype)[:, None]


_POLICY = {"color": _colour, "translation": _translation, "cutout": _cutout}
