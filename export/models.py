"""DCGAN-family generator and discriminator.

The generator is export-friendly by construction: no randomness inside the graph (the latent
comes in as an input), BatchNorm (folded by the exporter), a tanh output in [-1, 1]. The
discriminator uses spectral norm and, for conditional models, a projection head (Miyato &
Koyama 2018), which is known to keep small conditional GANs stable with a hinge loss.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import ImggenError


@dataclass(frozen=True)
class GanConfig:
    resolution: int = 32
    channels: int = 1
    latent_dim: int = 128
    num_classes: int = 0  # 0 = unconditional
    width: float = 1.0  # multiplies every layer's channel count
    base_channels: int = 64
    max_channels: int = 512
    # The discriminator also sees the batch's feature spread (minibatch standard deviation,
    # Karras et al. 2018), so a generator that maps every z to one image is caught: without it
    # the emoji GAN ignored z within a class from the first hundred steps on.
    minibatch_std: bool = False
    # An auxiliary classifier head on the discriminator (AC-GAN, Odena et al. 2017), trained on
    # real images only; the generator is rewarded when it recognises the asked class. The
    # projection head alone left the emoji generator's class a weak hint next to z.
    aux_classifier: bool = False

    def __post_init__(self) -> None:
        r = self.resolution
        if r < 32 or r > 256 or r & (r - 1):
            raise ImggenError(f"resolution must be a power of two in 32..256, got {r}")
        if self.channels not in (1, 3, 4):
            raise ImggenError(f"channels must be 1, 3 or 4 (RGBA), got {self.channels}")
        if self.latent_dim < 1 or self.num_classes < 0 or not 0 < self.width <= 64:
            raise ImggenError("latent_dim >= 1, num_classes >= 0 and width in (0, 64] are required")

    @property
    def num_upsamples(self) -> int:
        return int(math.log2(self.resolution)) - 2

    def level_channels(self, level: int) -> int:
        """Channels at a 4 * 2**level feature map: widest at 4x4, halving as the map grows."""
        c = self.base_channels * 2 ** (self.num_upsamples - level - 1) * self.width
        return max(8, min(self.max_channels, round(c)))

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


class Generator(nn.Module):
    """z (B, Z) [+ class id (B,)] -> image (B, C, R, R) in [-1, 1]."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        in_dim = config.latent_dim
        if config.num_classes:
            # The class enters as a learned embedding concatenated to z.
            self.class_embedding = nn.Embedding(config.num_classes, config.latent_dim)
            in_dim += config.latent_dim
        c0 = config.level_channels(0)
        self.stem = nn.Sequential(
            nn.ConvTranspose2d(in_dim, c0, 4, 1, 0, bias=False),
            nn.BatchNorm2d(c0),
            nn.ReLU(inplace=True),
        )
        blocks: list[nn.Module] = []
        for level in range(config.num_upsamples - 1):
            c_in, c_out = config.level_channels(level), config.level_channels(level + 1)
            blocks += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        last = config.level_channels(config.num_upsamples - 1)
        blocks += [nn.ConvTranspose2d(last, config.channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*blocks)
        _dcgan_init(self)

    def forward(self, z: torch.Tensor, class_id: torch.Tensor | None = None) -> torch.Tensor:
        if self.config.num_classes:
            if class_id is None:
                raise ValueError("this generator is conditional: pass class_id")
            z = torch.cat([z, self.class_embedding(class_id)], dim=1)
        return self.body(self.stem(z[:, :, None, None]))


class Discriminator(nn.Module):
    """image [+ class id] -> one real/fake score per image (hinge loss)."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        c_in = config.channels
        for level in reversed(range(config.num_upsamples)):
            c_out = config.level_channels(level)
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        feat_dim = (c_in + config.minibatch_std) * 4 * 4
        self.head = spectral_norm(nn.Linear(feat_dim, 1))
        if config.num_classes:
            self.projection = spectral_norm(nn.Embedding(config.num_classes, feat_dim))
        if config.num_classes and config.aux_classifier:
            self.classifier = nn.Linear(feat_dim, config.num_classes)

    def forward(self, x: torch.Tensor, class_id: torch.Tensor | None = None) -> torch.Tensor:
        return self.score_and_logits(x, class_id)[0]

    def score_and_logits(
        self, x: torch.Tensor, class_id: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The real/fake score and, with an auxiliary classifier, the class logits."""
        h = self.features(x)
        if self.config.minibatch_std:
            spread = h.float().std(dim=0, unbiased=False).mean().to(h.dtype)
            h = torch.cat([h, spread.expand(h.shape[0], 1, *h.shape[2:])], dim=1)
        h = h.flatten(1)
        score = self.head(h).squeeze(1)
        if self.config.num_classes:
            if class_id is None:
                raise ValueError("this discriminator is conditional: pass class_id")
            score = score + (self.projection(class_id) * h).sum(dim=1)
        logits = self.classifier(h) if hasattr(self, "classifier") else None
        return score, logits


def _dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) convolutions, N(1, 0.02) BatchNorm gains.

    Only for the generator: the discriminator's spectral norm rescales its weights anyway.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
