"""The Fashion-MNIST classifier behind `imggen-rt eval`, and the script that trains it.

A small CNN on 32x32 grey images in [-1, 1]. It is exported to ONNX with two outputs, the
logits and the penultimate features (the space the Fréchet distance is measured in), and
shipped with the training side as `assets/fashion_classifier.onnx`.

Reproduce it with:  python -m imggen_rt.export.classifier
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

from .data import load_fashion_mnist, to_unit_range
from .onnx_export import quiet_exporter, strip_source_locations

CLASSIFIER_PATH = Path(__file__).parent / "assets" / "fashion_classifier.onnx"
RESOLUTION = 32
FEATURE_DIM = 128


class FashionClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )

        self.features = nn.Sequential(block(1, 32), block(32, 64), block(64, 128))
        self.embed = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * 4 * 4, FEATURE_DIM), nn.ReLU()
        )
        self.head = nn.Linear(FEATURE_DIM, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.embed(self.features(x))
        return self.head(features), features


def train_classifier(epochs: int = 3, batch_size: int = 128, seed: int = 0) -> FashionClassifier:
    torch.manual_seed(seed)
    train = load_fashion_mnist("train", RESOLUTION)
    test = load_fashion_mnist("test", RESOLUTION)
    x = torch.from_numpy(to_unit_range(train.images))
    y = torch.from_numpy(train.labels)
    model = FashionClassifier()
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
            flip = torch.rand(len(idx), generator=rng) < 0.5  # clothes are left-right symmetric
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
def accuracy(model: FashionClassifier, images: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    logits = torch.cat(
        [
            model(torch.from_numpy(to_unit_range(images[i : i + 1000])))[0]
            for i in range(0, len(images), 1000)
        ]
    )
    return float((logits.argmax(1).numpy() == labels).mean())


def export_classifier(model: FashionClassifier, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, 1, RESOLUTION, RESOLUTION)
    with quiet_exporter():
        program = torch.onnx.export(
            model.eval(),
            (example,),
            dynamo=True,
            opset_version=18,
            input_names=["image"],
            output_names=["logits", "features"],
            dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=65536)}},
            external_data=False,
        )
    assert program is not None
    model = program.model_proto
    strip_source_locations(model)
    onnx.save(model, str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description="Train and export the eval classifier.")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=CLASSIFIER_PATH)
    args = parser.parse_args()
    model = train_classifier(args.epochs)
    export_classifier(model, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
