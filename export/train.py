"""GAN training: hinge loss, spectral-norm (projection) discriminator, Adam, EMA generator.

A run folder holds everything of one run: `checkpoint.pt` (the latest, what --resume reads),
`checkpoints/step_*.pt`, `samples/step_*.png` (a grid from the EMA generator on fixed seeds),
and torch's caches. A resumed run continues at the same step with the same optimiser, EMA and
random-number state, so it ends where an uninterrupted run would.
"""

from __future__ import annotations

import copy
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ImggenError
from .augment import POLICIES, diff_augment
from .checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from .data import ImageSet, load_training_data
from .models import Discriminator, GanConfig, Generator
from .sampling import sample_grid


@dataclass
class TrainConfig:
    data: str = "fashion-mnist"
    resolution: int = 32
    channels: int = 1
    steps: int = 10_000
    batch_size: int = 64
    latent_dim: int = 128
    width: float = 1.0
    conditional: bool = True  # ignored (False) when the data has no labels
    # Two time-scale update rule (Heusel et al. 2017): a faster discriminator kept the
    # generator from ignoring z (one image per class) in trials on Fashion-MNIST.
    lr_g: float = 1e-4
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.9)
    ema_decay: float = 0.999
    checkpoint_every: int = 1000
    seed: int = 0
    threads: int = 0  # 0 = torch's default
    # DiffAugment policy for what the discriminator sees ("" = none), e.g.
    # "color,translation,cutout": what keeps D from memorising a few-thousand-image set.
    augment: str = ""
    # bf16 autocast for the forward passes (weights, optimiser state and losses stay FP32):
    # several times the matmul rate on CPUs with AVX512-BF16 or AMX.
    bf16: bool = False
    minibatch_std: bool = False  # see GanConfig.minibatch_std
    # Mode seeking (Mao et al. 2019): the generator is also rewarded for making images as far
    # apart as their latents are (the two halves of each batch share classes and differ in z).
    # 0 = off.
    diversity: float = 0.0
    # Weight of the auxiliary-classifier loss (GanConfig.aux_classifier), conditional data only.
    # 0 = off.
    aux_class: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Settings checked before any data is read: one line each, never a traceback later."""
        r = self.resolution
        if r < 32 or r > 256 or r & (r - 1):
            raise ImggenError(f"--resolution must be a power of two in 32..256, got {r}")
        if self.channels not in (1, 3, 4):
            raise ImggenError(f"--channels must be 1, 3 or 4 (RGBA), got {self.channels}")
        unknown = [p for p in self.augment.split(",") if p and p not in POLICIES]
        if unknown:
            raise ImggenError(
                f"--augment takes {', '.join(POLICIES)} (comma-separated), not {unknown[0]!r}"
            )
        if not (math.isfinite(self.width) and 0 < self.width <= 64):
            raise ImggenError(f"--width must be in (0, 64], got {self.width}")
        for name, lr in (("--lr-g", self.lr_g), ("--lr-d", self.lr_d)):
            if not (math.isfinite(lr) and 0 < lr < 1):
                raise ImggenError(f"{name} must be in (0, 1), got {lr}")
        if self.threads < 0:
            raise ImggenError(f"--threads must be >= 0, got {self.threads}")
        if not (math.isfinite(self.diversity) and 0 <= self.diversity <= 100):
            raise ImggenError(f"--diversity must be in [0, 100], got {self.diversity}")
        if not (math.isfinite(self.aux_class) and 0 <= self.aux_class <= 100):
            raise ImggenError(f"--aux-class must be in [0, 100], got {self.aux_class}")


# What a run's model is: fixed for its life. Everything else in TrainConfig (loss weights,
# learning rates, augmentation, steps, threads) may change when a run is resumed.
ARCHITECTURE_FIELDS = (
    "data",
    "resolution",
    "channels",
    "latent_dim",
    "width",
    "conditional",
    "minibatch_std",
    "seed",
)


def resumed_config(saved: dict[str, Any], given: dict[str, Any]) -> TrainConfig:
    """The saved run's settings with the ones given again on the command line.

    An architecture setting that differs from the run's is refused (the checkpoint would not
    fit it); a recipe setting overrides the saved one and is printed, so a log shows it.
    """
    saved = asdict(TrainConfig(**{**saved, "betas": tuple(saved["betas"])}))  # newer fields
    for name in ARCHITECTURE_FIELDS:
        if name in given and given[name] != saved.get(name, given[name]):
            flag = "--" + name.replace("_", "-")
            raise ImggenError(
                f"{flag} {given[name]} differs from the run's {saved[name]}: a run's model is "
                "fixed; start a new run (another --out) to change it"
            )
    changed = {
        k: v
        for k, v in given.items()
        if k not in ("steps", *ARCHITECTURE_FIELDS) and v != saved.get(k)
    }
    for name, value in changed.items():
        print(f"resuming with {name} = {value} (was {saved.get(name)})")
    return TrainConfig(**{**saved, **given})


def use_run_dir_for_caches(run_dir: Path) -> None:
    """Keep torch's caches (inductor, triton, hub) inside the run folder, not the home dir."""
    cache = run_dir / "cache"
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache / "inductor"))
    os.environ.setdefault("TRITON_CACHE_DIR", str(cache / "triton"))
    os.environ.setdefault("TORCH_HOME", str(cache / "torch"))


KEEP_LAST = 3
KEEP_EVERY = 5000


class Trainer:
    def __init__(self, config: TrainConfig, data: ImageSet, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir
        self.data = data
        num_classes = len(data.class_names) if config.conditional else 0
        self.gan = GanConfig(
            resolution=config.resolution,
            channels=config.channels,
            latent_dim=config.latent_dim,
            num_classes=num_classes,
            width=config.width,
            minibatch_std=config.minibatch_std,
            aux_classifier=bool(num_classes and config.aux_class),
        )
        torch.manual_seed(config.seed)
        self.generator = Generator(self.gan)
        self.discriminator = Discriminator(self.gan)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.opt_g = torch.optim.Adam(
            self.generator.parameters(), lr=config.lr_g, betas=config.betas
        )
        self.opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=config.lr_d, betas=config.betas
        )
        self.rng = torch.Generator().manual_seed(config.seed)
        self.images = torch.from_numpy(data.images)
        self.labels = torch.from_numpy(data.labels)
        self.step = 0

    # -- state -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "train_config": asdict(self.config),
            "gan_config": self.gan.to_dict(),
            "class_names": list(self.data.class_names) if self.gan.num_classes else [],
            "data_name": self.data.name,
            "generator": self.generator.state_dict(),
            "generator_ema": self.generator_ema.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": self.rng.get_state(),
            "torch_rng": torch.get_rng_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        saved = GanConfig(**state["gan_config"])  # older runs lack newer fields
        # The auxiliary classifier may be switched on or off when a run resumes: only the
        # discriminator's head differs, and a new head starts from scratch.
        if replace(saved, aux_classifier=self.gan.aux_classifier) != self.gan:
            raise ImggenError(
                "checkpoint was trained with a different model configuration: "
                f"{state['gan_config']} vs {self.gan.to_dict()}"
            )
        self.generator.load_state_dict(state["generator"])
        self.generator_ema.load_state_dict(state["generator_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        if saved.aux_classifier == self.gan.aux_classifier:
            self.discriminator.load_state_dict(state["discriminator"])
            self.opt_d.load_state_dict(state["opt_d"])
        else:
            head = {
                k: v for k, v in state["discriminator"].items() if not k.startswith("classifier.")
            }
            self.discriminator.load_state_dict(head, strict=False)
            # Adam's moments are per parameter list; the discriminator's starts afresh
            # (beta1 = 0 and beta2 = 0.9 forget within tens of steps anyway).
        self.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.step = int(state["step"])

    def save(self) -> Path:
        self._recalibrate_ema_batchnorm()
        state = self.state()
        path = self.run_dir / "checkpoints" / f"step_{self.step:07d}.pt"
        save_checkpoint(state, path)
        save_checkpoint(state, self.run_dir / CHECKPOINT_NAME)
        self._prune_checkpoints()
        import cv2

        folder = self.run_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        grids = sample_grid(self.generator_ema, self.gan, self.data.class_names)
        for suffix, grid in grids.items():
            cv2.imwrite(str(folder / f"step_{self.step:07d}{suffix}.png"), grid)
        return path

    def _prune_checkpoints(self) -> None:
        """Keep the last KEEP_LAST step checkpoints and every KEEP_EVERY-th: a long run at a
        short --checkpoint-every would otherwise fill the disk (tens of MB each)."""
        saved = sorted((self.run_dir / "checkpoints").glob("step_*.pt"))
        for old in saved[:-KEEP_LAST]:
            step = int(old.stem.split("_")[1])
            if step % KEEP_EVERY:
                old.unlink(missing_ok=True)

    # -- training ----------------------------------------------------------------------------
    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(self.images), (self.config.batch_size,), generator=self.rng)
        real = self.images[idx].float().mul_(2 / 255).sub_(1)
        return real, self.labels[idx]

    def _noise(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(self.config.batch_size, self.gan.latent_dim, generator=self.rng)
        if not self.gan.num_classes:
            return z, None
        c = torch.randint(self.gan.num_classes, (self.config.batch_size,), generator=self.rng)
        return z, c

    def _seen(self, images: torch.Tensor) -> torch.Tensor:
        """What the discriminator sees: the images through DiffAugment when enabled."""
        if not self.config.augment:
            return images
        return diff_augment(images, self.config.augment, self.rng)

    def _autocast(self) -> Any:
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.config.bf16)

    def train_step(self) -> dict[str, float]:
        cond = self.gan.num_classes > 0
        real, real_class = self._batch()
        z, fake_class = self._noise()

        # Discriminator: hinge loss on real vs (detached) fake.
        with self._autocast():
            with torch.no_grad():
                fake = self.generator(z, fake_class)
            d_real, logits_real = self.discriminator.score_and_logits(
                self._seen(real), real_class if cond else None
            )
            d_fake = self.discriminator(self._seen(fake), fake_class)
        loss_d = F.relu(1 - d_real.float()).mean() + F.relu(1 + d_fake.float()).mean()
        losses: dict[str, float] = {}
        if logits_real is not None:
            loss_cls = F.cross_entropy(logits_real.float(), real_class)
            loss_d = loss_d + self.config.aux_class * loss_cls
            losses["cls_real"] = loss_cls.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # Generator: raise the discriminator's score of fresh fakes.
        z, fake_class = self._noise()
        half = len(z) // 2
        if self.config.diversity and fake_class is not None:
            fake_class[half : 2 * half] = fake_class[:half]  # pairs: same class, other z
        with self._autocast():
            fake = self.generator(z, fake_class)
            score, logits_fake = self.discriminator.score_and_logits(self._seen(fake), fake_class)
        loss_g = -score.float().mean()
        if logits_fake is not None:
            loss_cls = F.cross_entropy(logits_fake.float(), fake_class)
            loss_g = loss_g + self.config.aux_class * loss_cls
            losses["cls_fake"] = loss_cls.item()
        if self.config.diversity:
            apart = (fake[:half] - fake[half : 2 * half]).float().abs().mean()
            latent_apart = (z[:half] - z[half : 2 * half]).abs().mean()
            loss_g = loss_g + self.config.diversity / (apart / latent_apart + 1e-5)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()

        self._update_ema()
        self.step += 1
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), **losses}

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Warm-up: early on the EMA follows G closely, later it averages over ~1/(1-decay) steps.
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        for p_ema, p in zip(
            self.generator_ema.parameters(), self.generator.parameters(), strict=True
        ):
            p_ema.lerp_(p, 1 - decay)
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers(), strict=True):
            b_ema.copy_(b)

    @torch.no_grad()
    def _recalibrate_ema_batchnorm(self, batches: int = 16) -> None:
        """Re-estimate BatchNorm statistics for the EMA weights (G's own stats do not fit them).

        Uses its own fixed-seed generator so the training stream is untouched.
        """
        g = self.generator_ema
        bns = [m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
        rng = torch.Generator().manual_seed(12345)
        g.train()
        for _ in range(batches):
            z = torch.randn(256, self.gan.latent_dim, generator=rng)
            c = (
                torch.randint(self.gan.num_classes, (256,), generator=rng)
                if self.gan.num_classes
                else None
            )
            g(z, c)
        g.eval()
        for bn in bns:
            bn.momentum = 0.1

    def run(self, on_step: Callable[[int, dict[str, float]], None] | None = None) -> None:
        every = self.config.checkpoint_every
        while self.step < self.config.steps:
            losses = self.train_step()
            if on_step:
                on_step(self.step, losses)
            if self.step % every == 0 or self.step == self.config.steps:
                self.save()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def train(
    config: TrainConfig | dict[str, Any],
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
) -> Path:
    """Train (or resume) into run_dir; returns the latest checkpoint's path.

    config: the settings, or (what the CLI passes) only the ones given, so a resumed run
    takes the rest from its checkpoint (`resumed_config`).
    """
    use_run_dir_for_caches(run_dir)
    checkpoint = run_dir / CHECKPOINT_NAME
    state = None
    if resume:
        if not checkpoint.is_file():
            raise ImggenError(f"nothing to resume: {checkpoint} does not exist")
        state = load_checkpoint(checkpoint)
        given = config if isinstance(config, dict) else {"steps": config.steps}
        config = resumed_config(state["train_config"], given)
    elif checkpoint.exists():
        raise ImggenError(f"{run_dir} already holds a run: pass --resume or choose another --out")
    if isinstance(config, dict):
        config = TrainConfig(**config)
    if config.threads:
        torch.set_num_threads(config.threads)
    data = load_training_data(config.data, config.resolution, config.channels)
    if not data.class_names:
        config.conditional = False
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(config, data, run_dir)
    if state is not None:
        trainer.load_state(state)
    if trainer.step >= config.steps:
        raise ImggenError(f"run is already at step {trainer.step} >= --steps {config.steps}")

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    start = time.perf_counter()
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("train", total=config.steps, completed=trainer.step, losses="")

        def on_step(step: int, losses: dict[str, float]) -> None:
            text = " ".join(f"{k}={v:.3f}" for k, v in losses.items())
            bar.update(task, completed=step, losses=text)

        # A run in the background ignores Ctrl-C (its shell set SIGINT aside): SIGTERM, what
        # `kill` and schedulers send, saves the same way.
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
        try:
            trainer.run(on_step)
        except KeyboardInterrupt:
            path = trainer.save()
            bar.stop()
            raise ImggenError(
                f"interrupted at step {trainer.step}; saved {path}; continue with --resume"
            ) from None
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)
    elapsed = time.perf_counter() - start
    print(f"trained to step {trainer.step} in {elapsed:.0f} s -> {checkpoint}")
    return checkpoint
