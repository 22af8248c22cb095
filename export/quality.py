"""`imggen-rt eval`: how good is a generator, on a scale that means something.

The Fréchet distance is measured in the penultimate features of the project's own classifier
for the model's training set (Fashion-MNIST, or the RGBA emoji; an Inception network and its
weights cannot be fetched here), so the absolute number is only meaningful beside its scale:
the distance between real train and real held-out images (the floor a perfect generator
reaches) and an untrained generator's (the ceiling of a useless one). Class consistency asks
the same classifier which class each conditional sample shows.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ..errors import ImggenError
from ..generator import load
from ..postprocess import denormalize
from .classifier import EvalSet, eval_set_for
from .data import to_unit_range
from .models import GanConfig, Generator
from .sampling import generate_torch


class FeatureExtractor:
    """A shipped classifier, run with ONNX Runtime: logits and features for uint8 images."""

    def __init__(self, evalset: EvalSet) -> None:
        import onnxruntime as ort

        path = evalset.classifier_path
        if not path.is_file():
            raise ImggenError(
                f"eval classifier {path.name} is missing: run python -m "
                f"imggen_rt.export.classifier --set {evalset.name}"
            )
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def __call__(self, images: np.ndarray, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """(N, C, R, R) uint8 as the set's classifier takes them -> logits, features (N, 128)."""
        logits, features = [], []
        for i in range(0, len(images), batch):
            out = self.session.run(None, {"image": to_unit_range(images[i : i + batch])})
            logits.append(out[0])
            features.append(out[1])
        return np.concatenate(logits), np.concatenate(features)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two feature sets.

    The trace of the matrix square root is taken through a symmetric eigenproblem,
    sqrt(S_a)^T S_b sqrt(S_a), whose eigenvalues are those of S_a S_b but real and >= 0.
    """
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = np.cov(a.astype(np.float64), rowvar=False)
    cov_b = np.cov(b.astype(np.float64), rowvar=False)
    vals, vecs = np.linalg.eigh(cov_a)
    sqrt_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    tr_sqrt = float(np.sqrt(np.clip(middle, 0, None)).sum())
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt)


def to_classifier_input(frames: np.ndarray, evalset: EvalSet) -> np.ndarray:
    """(N, H, W, C) uint8 RGB(A) or grey frames -> (N, C', R, R) uint8 as the set's classifier
    was trained: grey for Fashion-MNIST, RGBA for the emoji."""
    r = evalset.resolution
    out = np.empty((len(frames), evalset.channels, r, r), dtype=np.uint8)
    for i, frame in enumerate(frames):
        if evalset.channels == 1:
            image = (
                frame[..., :1]
                if frame.shape[-1] == 1
                else cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_RGB2GRAY)[
                    ..., None
                ]
            )
        else:
            image = frame
        if image.shape[:2] != (r, r):
            image = cv2.resize(image, (r, r), interpolation=cv2.INTER_AREA).reshape(r, r, -1)
        out[i] = image.transpose(2, 0, 1)
    return out


def _untrained_frames(card_extra: dict[str, str], card: Any, seeds: list[int]) -> np.ndarray:
    """Frames from a freshly initialised generator of the same shape (seed 0)."""
    if "architecture" in card_extra:
        config = GanConfig(**json.loads(card_extra["architecture"]))
    else:
        config = GanConfig(
            resolution=max(32, card.height),
            channels=card.channels,
            latent_dim=card.latent_dim,
            num_classes=card.num_classes,
        )
    torch.manual_seed(0)
    generator = Generator(config)
    classes = [s % config.num_classes for s in seeds] if config.num_classes else None
    images = np.concatenate(
        [
            generate_torch(generator, seeds[i : i + 500], classes[i : i + 500] if classes else None)
            for i in range(0, len(seeds), 500)
        ]
    )
    return denormalize(images, -1.0, 1.0, "gray" if config.channels == 1 else "rgb")


def evaluate(model: Path | None, n: int = 10_000) -> dict[str, Any]:
    start = time.perf_counter()
    with load(model, order="rgb") as gen:
        card = gen.card
        # cards written before the emoji set name Fashion-MNIST's
        evalset = eval_set_for(card.training_data or "fashion-mnist")
        seeds = list(range(n))
        classes = gen.resolve_classes(None, seeds)
        frames = gen.generate(seeds=seeds, batch_size=256)
        model_path = gen.model_path
    extractor = FeatureExtractor(evalset)
    test, train = evalset.held_out(), evalset.train()
    test_logits, test_features = extractor(test.images)
    classifier_accuracy = float((test_logits.argmax(1) == test.labels).mean())
    gen_logits, gen_features = extractor(to_classifier_input(frames, evalset))

    rng = np.random.default_rng(0)
    floor_idx = rng.choice(len(train), size=min(n, len(test)), replace=False)
    _, floor_features = extractor(train.images[floor_idx])
    _, untrained_features = extractor(
        to_classifier_input(_untrained_frames(dict(card.extra), card, seeds), evalset)
    )
    report: dict[str, Any] = {
        "model": str(model_path),
        "n": n,
        "frechet_distance": frechet_distance(gen_features, test_features),
        "floor_train_vs_test": frechet_distance(floor_features, test_features),
        "untrained_generator": frechet_distance(untrained_features, test_features),
        "classifier_test_accuracy": classifier_accuracy,
        "held_out_images": len(test),
        "feature_space": f"penultimate layer (128-d) of the shipped {evalset.name} classifier",
    }
    if card.conditional:
        if tuple(card.class_names) != evalset.class_names:
            report["class_consistency"] = None
            report["class_consistency_note"] = f"model classes are not {evalset.name}'s"
        else:
            asked = np.asarray(classes)
            predicted = gen_logits.argmax(1)
            report["class_consistency"] = float((predicted == asked).mean())
            report["class_consistency_by_class"] = {
                name: float((predicted[asked == k] == k).mean())
                for k, name in enumerate(card.class_names)
                if (asked == k).any()
            }
    report["seconds"] = round(time.perf_counter() - start, 1)
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"model: {report['model']} ({report['n']} images)",
        f"Fréchet distance (classifier features): {report['frechet_distance']:.3f}",
        f"  floor, real train vs real test:       {report['floor_train_vs_test']:.3f}",
        f"  untrained generator:                  {report['untrained_generator']:.3f}",
        f"classifier accuracy on real test images: {report['classifier_test_accuracy']:.2%}",
    ]
    consistency = report.get("class_consistency")
    if consistency is not None:
        lines.append(f"class consistency: {consistency:.2%}")
        by_class = report["class_consistency_by_class"]
        lines += [f"  {name:12s} {value:.2%}" for name, value in by_class.items()]
    elif "class_consistency_note" in report:
        lines.append(f"class consistency: n/a ({report['class_consistency_note']})")
    return "\n".join(lines)
