"""Generators the project did not train, in the shapes real ones have, exported with torch's own
exporter and no imggen-rt card: what `imggen-rt import` is for.

Each entry: a small torch module with random weights, the feeds it takes (by ONNX input name),
its ONNX file, and the import flags a user has to give (only what a graph cannot say: class
names, a noise choice, a channel order).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn


@dataclass
class ZooModel:
    name: str
    module: nn.Module
    inputs: list[str]  # ONNX input names, in forward's argument order
    path: Path
    flags: list[str] = field(default_factory=list)

    def torch_output(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The module's output on the graph's feeds (what ONNX Runtime is given)."""
        with torch.no_grad():
            args = [torch.from_numpy(np.asarray(feeds[n])) for n in self.inputs]
            return self.module(*args).numpy()


class DCGAN(nn.Module):
    """PyTorch-examples DCGAN shape: a (B, Z, 1, 1) latent into ConvTranspose layers, tanh."""

    def __init__(self, z: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z, 16, 4, 1, 0, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 3, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ConditionalSigmoid(nn.Module):
    """A tutorial-style conditional generator (int64 ids into an Embedding) ending in a
    sigmoid: [0, 1] output, one channel."""

    def __init__(self, z: int = 12, classes: int = 5) -> None:
        super().__init__()
        self.embed = nn.Embedding(classes, z)
        self.fc = nn.Linear(z, 8 * 4 * 4)
        self.up = nn.ConvTranspose2d(8, 1, 4, 2, 1)

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        h = self.fc(z * self.embed(label)).view(-1, 8, 4, 4)
        return torch.sigmoid(self.up(torch.relu(h)))


class VaeDecoder(nn.Module):
    """An autoencoder's decoder: z (B, Z) -> a sigmoid RGB image."""

    def __init__(self, z: int = 10) -> None:
        super().__init__()
        self.fc = nn.Linear(z, 16 * 4 * 4)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(8, 3, 4, 2, 1)
        )

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.up(self.fc(code).view(-1, 16, 4, 4)))


class NhwcBytes(nn.Module):
    """An exporter that ends in NHWC and [0, 255], as some deployment graphs do."""

    def __init__(self, z: int = 8) -> None:
        super().__init__()
        self.fc = nn.Linear(z, 3 * 8 * 6)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.fc(z)).view(-1, 3, 8, 6)
        return ((x + 1) * 127.5).permute(0, 2, 3, 1)


class BgrOut(nn.Module):
    """An RGB generator whose export swaps the channels to BGR (OpenCV pipelines)."""

    def __init__(self, z: int = 8) -> None:
        super().__init__()
        self.fc = nn.Linear(z, 3 * 6 * 6)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(z)).view(-1, 3, 6, 6).flip(1)


class ModulatedConv(nn.Module):
    """StyleGAN2's modulated conv in its non-fused, exportable form: scale the activations by
    the style, convolve with constant weights, demodulate; add a noise map; leaky ReLU."""

    def __init__(self, w_dim: int, cin: int, cout: int) -> None:
        super().__init__()
        self.affine = nn.Linear(w_dim, cin)
        self.weight = nn.Parameter(torch.randn(cout, cin, 3, 3) * 0.3)
        self.noise_strength = nn.Parameter(torch.tensor(0.1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        style = self.affine(w) + 1.0
        x = x * style[:, :, None, None]
        x = nn.functional.conv2d(x, self.weight, padding=1)
        demod = torch.rsqrt((self.weight[None] ** 2 * style[:, None, :, None, None] ** 2)
                            .sum(dim=(2, 3, 4)) + 1e-8)  # fmt: skip
        x = x * demod[:, :, None, None] + noise * self.noise_strength
        return nn.functional.leaky_relu(x, 0.2)


class StyleGanLike(nn.Module):
    """StyleGAN2-shaped: a mapping MLP over z and one-hot classes, truncation towards a baked
    w_avg by a psi input, two modulated convs each with its noise map, a linear (unclamped)
    RGB output."""

    def __init__(self, z: int = 16, classes: int = 4, w_dim: int = 16) -> None:
        super().__init__()
        self.embed = nn.Linear(classes, z)
        self.mapping = nn.Sequential(nn.Linear(2 * z, w_dim), nn.LeakyReLU(0.2))
        self.register_buffer("w_avg", torch.randn(w_dim) * 0.1)
        self.const = nn.Parameter(torch.randn(1, 8, 4, 4))
        self.conv0 = ModulatedConv(w_dim, 8, 8)
        self.conv1 = ModulatedConv(w_dim, 8, 8)
        self.to_rgb = nn.Conv2d(8, 3, 1)

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor,
        psi: torch.Tensor,
        noise0: torch.Tensor,
        noise1: torch.Tensor,
    ) -> torch.Tensor:
        w = self.mapping(torch.cat([z, self.embed(c)], dim=1))
        w = self.w_avg + psi[:, None] * (w - self.w_avg)
        x = self.const.expand(z.shape[0], -1, -1, -1)
        x = self.conv0(x, w, noise0)
        x = nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
        x = self.conv1(x, w, noise1)
        return self.to_rgb(x)


class Rgba(nn.Module):
    """Four output channels (RGB + alpha)."""

    def __init__(self, z: int = 8) -> None:
        super().__init__()
        self.fc = nn.Linear(z, 4 * 4 * 4)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(z)).view(-1, 4, 4, 4)


def _export(
    module: nn.Module,
    examples: tuple[torch.Tensor, ...],
    names: list[str],
    path: Path,
    dynamo: bool = True,
) -> None:
    module.eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            shapes = tuple({0: batch} if e.dim() else {} for e in examples)
            torch.onnx.export(
                module,
                examples,
                str(path),
                input_names=names,
                output_names=["image"],
                dynamic_shapes=shapes,
                dynamo=True,
                verbose=False,
            )
        else:
            axes = {n: {0: "batch"} for n in [*names, "image"]}
            torch.onnx.export(
                module,
                examples,
                str(path),
                input_names=names,
                output_names=["image"],
                dynamic_axes=axes,
                dynamo=False,
                opset_version=17,
            )


def build_zoo(folder: Path) -> dict[str, ZooModel]:
    """Every zoo model, exported into `folder` (seeded: the same weights every time)."""
    torch.manual_seed(0)
    zoo: dict[str, ZooModel] = {}

    def add(
        name: str,
        module: nn.Module,
        examples: tuple[torch.Tensor, ...],
        names: list[str],
        flags: list[str] | None = None,
        dynamo: bool = True,
    ) -> None:
        path = folder / f"{name}.onnx"
        _export(module, examples, names, path, dynamo)
        zoo[name] = ZooModel(name, module.eval(), names, path, flags or [])

    two = 2
    add("dcgan", DCGAN(), (torch.randn(two, 16, 1, 1),), ["input"], dynamo=False)
    add(
        "conditional_sigmoid",
        ConditionalSigmoid(),
        (torch.randn(two, 12), torch.tensor([0, 3])),
        ["z", "label"],
        ["--classes", "a,b,c,d,e"],
    )
    add("vae_decoder", VaeDecoder(), (torch.randn(two, 10),), ["code"])
    add("nhwc_bytes", NhwcBytes(), (torch.randn(two, 8),), ["z"])
    add("bgr", BgrOut(), (torch.randn(two, 8),), ["z"], ["--channel-order", "bgr"])
    add(
        "stylegan_like",
        StyleGanLike(),
        (
            torch.randn(two, 16),
            nn.functional.one_hot(torch.tensor([1, 2]), 4).float(),
            torch.full((two,), 0.7),
            torch.randn(two, 1, 4, 4),
            torch.randn(two, 1, 8, 8),
        ),
        ["z", "c", "psi", "noise0", "noise1"],
        ["--classes", "cat,dog,fox,owl", "--noise", "normal"],
    )
    add("rgba", Rgba(), (torch.randn(two, 8),), ["z"])
    return zoo
