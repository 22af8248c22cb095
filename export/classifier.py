"""The classifiers behind `imggen-rt eval`, one per training set, and the script that trains them.

A small CNN on the set's own images in [-1, 1]: 32x32 grey Fashion-MNIST, 64x64 RGBA emoji
(alpha is part of what it sees). Each is exported to ONNX with two outputs, the logits and the
penultimate features (the space the Fréchet distance is measured in), and shipped with the
training side as `assets/<set>_classifier.onnx`.

Reproduce them with:  python -m imggen_rt.export.classifier [--set fashion-mnist|twemoji]
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ImggenError
from .data import FASHION_MNIST_CLASSES, ImageSet, load_fashion_mnist, to_unit_range
from .onnx_export import dynamo_export

ASSETS = Path(__file__).parent / "assets"
FEATURE_DIM = 128


@dataclass(frozen=True)
class EvalSet:
    """A training set as `eval` measures against it: its classifier, its images' shape, and
    its real train and held-out images."""

    name: str
    resolution: int
    channels: int
    class_names: tuple[str, ...]
    train: Callable[[], ImageSet]
    held_out: Callable[[], ImageSet]
    epochs: int  # what the shipped classifier was trained for
    flip: bool  # left-right flips as training augmentation (the set is symmetric enough)

    @property
    def classifier_path(self) -> Path:
        return ASSETS / f"{self.name}_classifier.onnx"


def _twemoji(split: str) -> ImageSet:
    from .emoji import load_twemoji

    return load_twemoji(split, 64)


def _emoji_groups() -> tuple[str, ...]:
    from .emoji import GROUPS

    return GROUPS


EVAL_SETS = {
    "fashion-mnist": EvalSet(
        "fashion",
        32,
        1,
        FASHION_MNIST_CLASSES,
        lambda: load_fashion_mnist("train", 32),
        lambda: load_fashion_mnist("test", 32),
        epochs=3,
        flip=True,
    ),
    "twemoji": EvalSet(
        "twemoji",
        64,
        4,
        _emoji_groups(),
        lambda: _twemoji("train"),
        lambda: _twemoji("heldout"),
        epochs=30,
        flip=False,  # flags, text and arrows are not mirror images of themselves
    ),
}


def eval_set_for(training_data: str) -> EvalSet:
    """The set a model's card says it was trained on (`fashion-mnist-train`, `twemoji-train`)."""
    for prefix, found in EVAL_SETS.items():
        if training_data.startswith(prefix):
            return found
    known = ", ".join(EVAL_SETS)
    raise ImggenError(
        f"no eval classifier for training data {training_data!r} (eval knows {known})"
    )


class SetClassifier(nn.Module):
    """Conv blocks halving the image down to 4x4, then a FEATURE_DIM embedding and the head."""

    def __init__(self, channels: int = 1, resolution: int = 32, classes: int = 10) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )

        widths = [channels, 32, 64, 128, 128][: int(np.log2(resolution)) - 1]
        self.features = nn.Sequential(*(block(a, b) for a, b in itertools.pairwise(widths)))
        self.embed = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * 4 * 4, FEATURE_DIM), nn.ReLU()
        )
        self.head = nn.Linear(FEATURE_DIM, classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.embed(self.features(x))
        return self.head(features), features


def train_classifier(
    evalset: EvalSet, epochs: int | None = None, batch_size: int = 128, seed: int = 0
) -> SetClassifier:
    torch.manual_seed(seed)
    epochs = epochs or evalset.epochs
    train, test = evalset.train(), evalset.held_out()
    x = torch.from_numpy(to_unit_range(train.images))
    y = torch.from_numpy(train.labels)
    model = SetClassifier(evalset.channels, evalset.resolution, len(evalset.class_names))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * (len(x) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    rng = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=rng)
        for i in range(len(x) // batch_size):
            idx = order[i * batch_size : (i + 1) * batch_size]
            batch = x[idx]
            if evalset.flip:
                flip = torch.rand(len(idx), generator=rng) < 0.5
                batch[flip] = batch[flip].flip(-1)
            loss = F.cross_entropy(model(batch)[0], y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = accuracy(model, test.images, test.labels)
        print(
            f"epoch {epoch + 1}/{epochs}: test accuracy {acc:.4f} "
            f"({time.perf_counter() - start:.0f} s)"
        )
    return model.eval()


@torch.no_grad()
def accuracy(model: SetClassifier, images: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    logits = torch.cat(
        [
            model(torch.from_numpy(to_unit_range(images[i : i + 1000])))[0]
            for i in range(0, len(images), 1000)
        ]
    )
    return float((logits.argmax(1).numpy() == labels).mean())


def export_classifier(model: SetClassifier, evalset: EvalSet, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, evalset.channels, evalset.resolution, evalset.resolution)
    model = dynamo_export(
        model.eval(),
        (example,),
        ["image"],
        {"x": {0: torch.export.Dim("batch", min=1, max=65536)}},
        what="the classifier",
        outputs=("logits", "features"),
    )
    onnx.save(model, str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description="Train and export an eval classifier.")
    parser.add_argument("--set", choices=sorted(EVAL_SETS), default="fashion-mnist")
    parser.add_argument("--epochs", type=int, default=None, help="default: the set's own")
    parser.add_argument("--out", type=Path, default=None, help="default: the shipped path")
    args = parser.parse_args()
    evalset = EVAL_SETS[args.set]
    model = train_classifier(evalset, args.epochs)
    out = args.out or evalset.classifier_path
    export_classifier(model, evalset, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
