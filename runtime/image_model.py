"""Image-to-image generators (upscalers, restorers): an ONNX that maps an image to an image.

What the runtime needs to know is read from the graph and checked by running it: the image
input and output (4-D, NCHW, 1/3/4 channels), the scale factor (probed at two sizes: a scale
that differs between them is refuted), the spatial multiple the model needs (the smallest
that the graph accepts), and a static tile size when the graph's spatial axes are fixed. Value
ranges cannot be read from a graph: they default to [0, 1] (the Real-ESRGAN convention) and are
set with `input_range`/`output_range`. The model runs with ONNX Runtime on the CPU, in tiles
(`tiling.run_tiled`), so frames of any size run in the memory of one tile batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .card import MAX_SIDE
from .errors import ImggenError, first_line
from .tiling import TileSpec, run_tiled

MAX_SCALE = 16  # past this a "scale factor" is a graph that makes fixed-size output
PROBE_SIDE = 48  # probe sizes: 48 + a multiple, and that plus the multiple
MULTIPLES = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class ImageModelSpec:
    input_name: str
    output_name: str
    channels: int  # the input's
    out_channels: int
    scale: int
    multiple: int
    static_side: int | None  # a graph with fixed spatial axes takes only this tile
    input_range: tuple[float, float] = (0.0, 1.0)
    output_range: tuple[float, float] = (0.0, 1.0)


class ImageModel:
    """An image-to-image ONNX on ONNX Runtime (CPU), probed at load."""

    def __init__(
        self,
        path: str | Path,
        input_range: tuple[float, float] = (0.0, 1.0),
        output_range: tuple[float, float] = (0.0, 1.0),
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ImggenError(f"model file {self.path} does not exist")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:
            raise ImggenError(
                f"{self.path.name} is not a model ONNX Runtime can run: {first_line(e)}"
            ) from None
        self.spec = self._probe(input_range, output_range)

    def _probe(
        self, input_range: tuple[float, float], output_range: tuple[float, float]
    ) -> ImageModelSpec:
        name = self.path.name
        inputs = self.session.get_inputs()
        images = [i for i in inputs if len(i.shape) == 4]
        if len(inputs) != 1 or not images:
            raise ImggenError(
                f"{name} is not an image-to-image model: it needs one 4-D image input, it has "
                f"{[(i.name, i.shape) for i in inputs]}"
            )
        image = images[0]
        if "float" not in image.type:
            raise ImggenError(f"{name}: input '{image.name}' is {image.type}; images are float")
        channels = image.shape[1]
        if channels not in (1, 3, 4):
            raise ImggenError(
                f"{name}: input '{image.name}' {image.shape} is not NCHW with 1, 3 or 4 channels"
            )
        h, w = image.shape[2], image.shape[3]
        static = int(h) if isinstance(h, int) and isinstance(w, int) and h == w else None
        if (isinstance(h, int) or isinstance(w, int)) and static is None:
            raise ImggenError(
                f"{name}: input {image.shape}: only square static tiles are supported"
            )
        if static is not None and not 1 <= static <= MAX_SIDE:
            raise ImggenError(f"{name}: a static {static} px input is past {MAX_SIDE} px a side")
        self._input, self._output = image.name, self.session.get_outputs()[0].name
        if static is not None:
            out = self._run_probe(channels, static)
            scale, multiple = self._scale_of(out, static), 1
        else:
            multiple, scale = self._multiple_and_scale(channels)
            out = self._run_probe(channels, PROBE_SIDE + multiple)
        for low, high in (input_range, output_range):
            if not (np.isfinite(low) and np.isfinite(high) and low < high):
                raise ImggenError(f"a value range must be finite with low < high, got {low}:{high}")
        return ImageModelSpec(
            image.name,
            self._output,
            channels,
            int(out.shape[1]),
            scale,
            multiple,
            static,
            input_range,
            output_range,
        )

    def _run_probe(self, channels: int, side: int) -> np.ndarray:
        x = np.zeros((1, channels, side, side), np.float32)
        try:
            out = np.asarray(self.session.run([self._output], {self._input: x})[0])
        except Exception as e:  # the graph's own refusal (a size it cannot take, memory)
            why = first_line(e)
            raise ImggenError(f"{self.path.name} fails on a {side} px input: {why}") from None
        if out.ndim != 4 or out.shape[1] not in (1, 3, 4):
            raise ImggenError(f"{self.path.name}: output {out.shape} is not an NCHW image")
        return out

    def _scale_of(self, out: np.ndarray, side: int) -> int:
        oh, ow = out.shape[2:]
        if oh != ow or oh % side or oh // side > MAX_SCALE:
            raise ImggenError(
                f"{self.path.name}: a {side}x{side} input made {ow}x{oh}: not a whole scale factor"
            )
        return int(oh // side)

    def _multiple_and_scale(self, channels: int) -> tuple[int, int]:
        """The smallest spatial multiple at which the graph runs and makes one whole scale
        factor at two sizes (a U-Net's downsampling needs one), and that factor."""
        for multiple in MULTIPLES:
            sides = (PROBE_SIDE + multiple, PROBE_SIDE + 2 * multiple)
            try:
                scales = {self._scale_of(self._run_probe(channels, side), side) for side in sides}
            except Exception:  # the graph's own refusal, or a size it does not scale whole
                continue
            if len(scales) == 1:
                return multiple, scales.pop()
        raise ImggenError(
            f"{self.path.name}: no input size from {PROBE_SIDE + 1} to {PROBE_SIDE + 128} px "
            "gives one whole scale factor: not an image-to-image model this runtime can tile"
        )

    def infer(self, tiles: np.ndarray) -> np.ndarray:
        """(N, C, t, t) float32 in the input range -> (N, C', t * scale, t * scale)."""
        try:
            out = self.session.run([self._output], {self._input: tiles})[0]
        except Exception as e:
            raise ImggenError(
                f"{self.path.name} failed on a {tiles.shape} batch: {first_line(e)}"
            ) from None
        return np.asarray(out, np.float32)

    def tile_spec(self, tile: int, overlap: int, blend: str = "crop", batch: int = 4) -> TileSpec:
        """The tiling this model runs with: a static graph's own side, else `tile` (rounded up
        to the model's multiple)."""
        spec = self.spec
        side = spec.static_side or -(-tile // spec.multiple) * spec.multiple
        static = spec.static_side is not None
        return TileSpec(side, overlap, spec.scale, spec.multiple, blend, batch, static)

    def run(self, frame: np.ndarray, tiling: TileSpec) -> np.ndarray:
        """(C, H, W) float32 in the input range -> (C', H * s, W * s) in the output range."""
        return run_tiled(frame, self.infer, tiling)

    def describe(self) -> dict[str, Any]:
        s = self.spec
        return {
            "model": self.path.name,
            "scale": s.scale,
            "multiple": s.multiple,
            "static_tile": s.static_side,
            "channels": [s.channels, s.out_channels],
            "input_range": list(s.input_range),
            "output_range": list(s.output_range),
        }
