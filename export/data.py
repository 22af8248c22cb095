"""Training data: Fashion-MNIST from its IDX files, or any folder of images.

Both come out the same way: a uint8 array (N, C, R, R) at the model's resolution plus integer
labels and class names, small enough (60k x 32 x 32) to hold in memory and sample from directly.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImggenError

# Installed by the Debian package `dataset-fashion-mnist`.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray  # uint8 (N, C, R, R)
    labels: np.ndarray  # int64 (N,), all zeros when the set has no labels
    class_names: tuple[str, ...]  # empty when the set has no labels
    name: str

    def __len__(self) -> int:
        return len(self.images)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST container), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ImggenError(f"cannot read IDX file {path}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ImggenError(f"{path} is not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ImggenError(
            f"{path}: header says {shape} ({expected} bytes) but holds {len(data) - header}"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def fashion_mnist_dir() -> Path:
    return Path(os.environ.get("IMGGEN_FASHION_MNIST_DIR", FASHION_MNIST_DIR))


def _find_idx(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise ImggenError(
        f"Fashion-MNIST file {stem}[.gz] not found in {root}: install the Debian package "
        "dataset-fashion-mnist or set IMGGEN_FASHION_MNIST_DIR"
    )


def load_fashion_mnist(
    split: str = "train", resolution: int = 28, channels: int = 1, root: Path | None = None
) -> ImageSet:
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ImggenError(f"split must be 'train' or 'test', got {split!r}")
    root = root or fashion_mnist_dir()
    images = read_idx(_find_idx(root, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find_idx(root, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    if images.ndim != 3 or len(images) != len(labels):
        raise ImggenError(f"Fashion-MNIST in {root} is inconsistent: {images.shape} vs labels")
    return ImageSet(
        _to_model_layout(images[..., None], resolution, channels),
        labels,
        FASHION_MNIST_CLASSES,
        f"fashion-mnist-{split}",
    )


def load_image_folder(root: Path, resolution: int, channels: int) -> ImageSet:
    """Every PNG/JPEG under root, centre-cropped to a square and resized.

    Sub-folders, when every image sits in one, become the classes (like torchvision's
    ImageFolder); otherwise the set is unlabelled.
    """
    if not root.is_dir():
        raise ImggenError(f"data folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImggenError(f"no PNG or JPEG images under {root}")
    folders = sorted({p.parent.relative_to(root).as_posix() for p in files})
    labelled = len(folders) > 1 and all(f != "." and "/" not in f for f in folders)
    class_names = tuple(folders) if labelled else ()
    images, labels = [], []
    flag = cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR
    for path in files:
        img = cv2.imread(str(path), flag)
        if img is None:
            raise ImggenError(f"cannot decode image {path}")
        if channels == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        images.append(_square_resize(img, resolution))
        labels.append(folders.index(path.parent.relative_to(root).as_posix()) if labelled else 0)
    stacked = np.stack(images)
    if stacked.ndim == 3:
        stacked = stacked[..., None]
    return ImageSet(
        np.ascontiguousarray(stacked.transpose(0, 3, 1, 2)),
        np.asarray(labels, dtype=np.int64),
        class_names,
        root.name,
    )


def load_training_data(data: str, resolution: int, channels: int) -> ImageSet:
    """`fashion-mnist`, `twemoji` (RGBA emoji) or a folder path, as the CLI's --data takes it."""
    if data == "fashion-mnist":
        return load_fashion_mnist("train", resolution, channels)
    if data == "twemoji":
        if channels != 4:
            raise ImggenError("--data twemoji is RGBA: train it with --channels 4")
        from .emoji import load_twemoji

        return load_twemoji("train", resolution)
    if channels == 4:
        raise ImggenError("--channels 4 (RGBA) needs --data twemoji")
    return load_image_folder(Path(data), resolution, channels)


def _square_resize(img: np.ndarray, resolution: int) -> np.ndarray:
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    img = img[top : top + side, left : left + side]
    if side == resolution:
        return img
    interp = cv2.INTER_AREA if side > resolution else cv2.INTER_LINEAR
    return cv2.resize(img, (resolution, resolution), interpolation=interp)


def _to_model_layout(images: np.ndarray, resolution: int, channels: int) -> np.ndarray:
    """(N, H, W, 1) uint8 -> (N, channels, R, R) uint8."""
    out = np.empty((len(images), channels, resolution, resolution), dtype=np.uint8)
    for i, img in enumerate(images):
        resized = _square_resize(img[..., 0], resolution)
        out[i] = resized[None]  # broadcasts gray to 3 channels when asked
    return out


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1], the generator's output range."""
    return images.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
