"""Checkpoints: one torch file holding the whole training state, written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write_bytes
from ..errors import ImggenError, first_line
from .models import GanConfig, Generator

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "imggen-rt-gan-checkpoint/1"


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Written whole then renamed into place, so a crash never leaves half a checkpoint."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    atomic_write_bytes(path, buffer.getbuffer())


def load_checkpoint(path: Path) -> dict[str, Any]:
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise ImggenError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt or foreign file
        first = first_line(e)
        raise ImggenError(f"cannot read checkpoint {path}: {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ImggenError(f"{path} is not an imggen-rt training checkpoint")
    return state


def generator_from_checkpoint(path: Path, ema: bool = True) -> tuple[Generator, dict[str, Any]]:
    """The (EMA) generator in eval mode, plus the checkpoint's metadata (no weights)."""
    state = load_checkpoint(path)
    config = GanConfig(**state["gan_config"])
    generator = Generator(config)
    generator.load_state_dict(state["generator_ema" if ema else "generator"])
    meta = {k: state[k] for k in ("step", "train_config", "gan_config", "class_names", "data_name")}
    return generator.eval(), meta
