"""Image-to-image generators (upscalers, restorers): an ONNX that maps an image to an image.

What the runtime needs to know is read from the graph and checked by running it: the image
input and output (4-D, NCHW, 1/3/4 channels), the scale factor (probed at two sizes: a scale
that differs between them is refuted), the spatial multiple the model needs (the smallest
that the graph accepts), and a static tile size when the graph's spatial axes are fixed. Value
ranges cannot be read from a graph: they default to [0, 1] (the Real-ESRGAN convention) and are
set with `input_range`/`output_range`. The model runs in tiles (`tiling.run_tiled`), so frames
of any size run in the memory of one tile batch: on ONNX Runtime, or on a static-shape OpenVINO
engine for the tile size (`engines.image_engine`) when `engine` asks for one. `auto` takes the
bf16 engine on CPUs with bf16 in hardware, built on first use unless builds are off
(IMGGEN_RT_ENGINE_BUILD=never), and only where it passed its parity gate and timed faster;
frames smaller than a tile stay on ONNX Runtime, which takes any size without padding.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .card import MAX_SIDE
from .errors import ImggenError, first_line
from .image_card import (
    ImageCard,
    always_global,
    global_op,
    is_image_input,
    is_scalar_input,
    measure_locality,
)
from .onnx_graph import load_model
from .tiling import TileModel, TileSpec, run_tiled

if TYPE_CHECKING:
    from .engines.image_engine import OpenVinoImageEngine

ENGINES = ("auto", "onnxruntime", "openvino")


def build_note(text: str) -> None:
    """Progress of an engine build inside a job that shows its own progress bar: plain lines
    on stderr (rich prints them above the bar, where a second live status cannot go)."""
    print(f"imggen-rt: {text}", file=sys.stderr)


def first_use_builds(
    engine: str = "auto", policy: str | None = None
) -> Callable[[str], None] | None:
    """The build callback for `engine`: an explicit openvino always builds what it needs,
    auto only while the policy (--engine-build, else IMGGEN_RT_ENGINE_BUILD) is first-use."""
    from .backend_factory import engine_build_policy

    if engine == "openvino" or (policy or engine_build_policy()) == "first-use":
        return build_note
    return None


MAX_SCALE = 16  # past this a "scale factor" is a graph that makes fixed-size output
PROBE_SIDE = 48  # probe sizes: 48 + a multiple, and that plus the multiple
MULTIPLES = (1, 2, 4, 8, 16, 32, 64)
LOCALITY_SIDE = 160  # the receptive-field probe's side: reaches up to 80 px are measured
DEFAULT_OVERLAP = 16  # where a card says the receptive field is unknown
WHOLE_FRAME_PIXELS = 4096 * 4096  # a non-tileable model's largest frame


@dataclass(frozen=True)
class ImageModelSpec:
    input_name: str
    output_name: str
    channels: int  # the input's
    out_channels: int
    scale: int
    multiple: int
    static_side: int | None  # a graph with fixed spatial axes takes only this tile
    static_batch: int | None  # and one with a fixed batch axis only this many tiles a call
    input_range: tuple[float, float] = (0.0, 1.0)
    output_range: tuple[float, float] = (0.0, 1.0)
    scalars: dict[str, float] = field(default_factory=dict)  # the knobs' values, by input
    receptive_field: int | None = None  # context per side an output pixel needs; None: unknown
    not_tileable: str = ""  # why the model must see whole frames; "" = tileable
    card: ImageCard | None = None  # what `imggen-rt import` stored, when it did

    @property
    def default_overlap(self) -> int:
        return DEFAULT_OVERLAP if self.receptive_field is None else self.receptive_field


class ImageModel:
    """An image-to-image ONNX on ONNX Runtime (CPU), probed at load."""

    def __init__(
        self,
        path: str | Path,
        input_range: tuple[float, float] | None = None,
        output_range: tuple[float, float] | None = None,
        threads: int | None = None,
        engine: str = "onnxruntime",
        build: Callable[[str], None] | None = None,
        cache_dir: Path | None = None,
        scalars: dict[str, float] | None = None,
    ) -> None:
        """scalars: values of the model's knobs (inputs besides the image), over its card's
        defaults. engine: onnxruntime, openvino (this CPU's engine per tile size: bf16 where the CPU
        has it, else FP32) or auto (see the module). build: the progress callback of a build
        on first use; None with auto = only engines built ahead."""
        import onnxruntime as ort

        if engine not in ENGINES:
            raise ImggenError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        self.engine, self._build, self._cache_dir = engine, build, cache_dir
        self.threads = threads
        self._engines: dict[tuple[int, int], OpenVinoImageEngine | None] = {}
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
        metadata = self.session.get_modelmeta().custom_metadata_map
        card = ImageCard.from_metadata(metadata, self.path.name)
        base = card or ImageCard()
        ranges = replace(
            base,
            input_range=input_range or base.input_range,
            output_range=output_range or base.output_range,
        )
        self._given_scalars = dict(scalars or {})
        self.spec = self._probe(ranges, card)
        if engine == "openvino" and self.spec.scalars:
            raise ImggenError(
                f"{self.path.name} has scalar inputs: engines are built for models without "
                "them; use --engine onnxruntime"
            )

    def _probe(self, ranges: ImageCard, card: ImageCard | None) -> ImageModelSpec:
        name = self.path.name
        inputs = self.session.get_inputs()
        images = [i for i in inputs if is_image_input(tuple(i.shape))]
        knobs = [i for i in inputs if i not in images]
        if len(images) != 1 or not all(
            is_scalar_input(tuple(k.shape)) and "float" in k.type for k in knobs
        ):
            raise ImggenError(
                f"{name} is not an image-to-image model: it needs one NCHW image input (and "
                f"float scalar knobs), it has {[(i.name, i.shape) for i in inputs]}"
            )
        image = images[0]
        self._knobs = {k.name: tuple(k.shape) for k in knobs}
        self._knob_values = self._scalar_values(card)
        if "float" not in image.type:
            raise ImggenError(f"{name}: input '{image.name}' is {image.type}; images are float")
        channels = image.shape[1]
        if channels not in (1, 3, 4):
            raise ImggenError(
                f"{name}: input '{image.name}' {image.shape} is not NCHW with 1, 3 or 4 channels"
            )
        fixed = image.shape[0]
        self._static_batch = fixed if isinstance(fixed, int) and fixed > 0 else None
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
        spec = ImageModelSpec(
            image.name,
            self._output,
            channels,
            int(out.shape[1]),
            scale,
            multiple,
            static,
            self._static_batch,
            ranges.input_range,
            ranges.output_range,
            scalars=dict(self._knob_values),
        )
        if card is not None:  # measured (or stated) at import
            return replace(
                spec,
                receptive_field=card.receptive_field,
                not_tileable=card.not_tileable,
                card=card,
            )
        return self._with_locality(spec)

    def _scalar_values(self, card: ImageCard | None) -> dict[str, float]:
        """Each knob's value: given, else the card's default; a knob with neither, or a
        value for a knob the model lacks, is one line."""
        unknown = sorted(set(self._given_scalars) - set(self._knobs))
        if unknown:
            have = ", ".join(self._knobs) or "none"
            raise ImggenError(
                f"{self.path.name} has no scalar input {unknown[0]!r} (it has: {have})"
            )
        values = {**(card.scalars if card else {}), **self._given_scalars}
        missing = [k for k in self._knobs if k not in values]
        if missing:
            raise ImggenError(
                f"{self.path.name}: the scalar input {missing[0]!r} needs a value: --scalar "
                f"{missing[0]}=VALUE (or store a default with `imggen-rt import --scalar`)"
            )
        return {k: values[k] for k in self._knobs}

    def _feeds(self, tiles: np.ndarray) -> dict[str, np.ndarray]:
        feeds = {self._input: tiles}
        for name, shape in self._knobs.items():
            size = len(tiles) if shape and not isinstance(shape[0], int) else 1
            value = np.full((size,) if shape else (), self._knob_values[name], np.float32)
            feeds[name] = value
        return feeds

    def _with_locality(self, spec: ImageModelSpec) -> ImageModelSpec:
        """The receptive field and tileability, measured (see image_card); the graph's ops
        name the reason (parsed only here: a model with a card is read once, by the session)."""
        ops = {node.op_type for node in load_model(self.path, load_weights=False).graph.node}
        if spec.static_side is not None:
            side = spec.static_side
        else:
            side = -(-LOCALITY_SIDE // spec.multiple) * spec.multiple
        local = measure_locality(
            self.infer,
            spec.channels,
            side,
            spec.multiple,
            spec.scale,
            spec.input_range,
            spec.output_range,
        )
        whole = always_global(ops)
        if whole is None and local.reaches_edge:
            whole = global_op(ops) or (
                f"a change at one pixel reaches past {side // 2} px (the edge of the probe)"
            )
        if whole is not None:
            return replace(spec, not_tileable=f"{whole} mixes the whole frame")
        return replace(spec, receptive_field=local.receptive_field)

    def _run_probe(self, channels: int, side: int) -> np.ndarray:
        x = np.zeros((self._static_batch or 1, channels, side, side), np.float32)
        try:
            out = np.asarray(self.session.run([self._output], self._feeds(x))[0])
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
        """(N, C, t, t) float32 in the input range -> (N, C', t * scale, t * scale) on ONNX
        Runtime; a graph with a fixed batch gets it (the last call padded)."""
        fixed = self._static_batch
        if fixed is None or len(tiles) == fixed:
            return self._session_run(tiles)
        outs = []
        for start in range(0, len(tiles), fixed):
            group = tiles[start : start + fixed]
            padded = np.concatenate([group, np.repeat(group[:1], fixed - len(group), axis=0)])
            outs.append(self._session_run(padded)[: len(group)])
        return np.concatenate(outs)

    def _session_run(self, tiles: np.ndarray) -> np.ndarray:
        try:
            out = self.session.run([self._output], self._feeds(tiles))[0]
        except Exception as e:
            raise ImggenError(
                f"{self.path.name} failed on a {tiles.shape} batch: {first_line(e)}"
            ) from None
        return np.asarray(out, np.float32)

    def tile_spec(
        self, tile: int, overlap: int | None = None, blend: str = "crop", batch: int = 4
    ) -> TileSpec:
        """The tiling this model runs with: a static graph's own side, else `tile` (rounded up
        to the model's multiple); overlap None: the model's receptive field."""
        spec = self.spec
        side = spec.static_side or -(-tile // spec.multiple) * spec.multiple
        static = spec.static_side is not None
        if overlap is None:
            # a model that is not tiled needs no overlap (it runs whole frames)
            overlap = 0 if spec.not_tileable else spec.default_overlap
            if side <= 2 * overlap:
                raise ImggenError(
                    f"{self.path.name} needs {overlap} px of context per tile side (its "
                    f"receptive field): use --tile {2 * overlap + 64} or more, or set --overlap"
                )
        return TileSpec(side, overlap, spec.scale, spec.multiple, blend, batch, static)

    def run(
        self,
        frame: np.ndarray,
        tiling: TileSpec,
        to_input: Callable[[np.ndarray], np.ndarray] | None = None,
        to_output: Callable[[np.ndarray], np.ndarray] | None = None,
        out_dtype: type[np.generic] | np.dtype = np.float32,
        channels_last: bool = False,
    ) -> np.ndarray:
        """(C, H, W) -> (C', H * s, W * s): float32 in the input range to float32 in the
        output range, or any dtype through per-tile conversions (`tiling.run_tiled`)."""
        _, h, w = frame.shape
        io: dict[str, Any] = {
            "to_input": to_input,
            "to_output": to_output,
            "out_dtype": out_dtype,
            "channels_last": channels_last,
        }
        if self.spec.not_tileable:
            return run_tiled(frame, self.infer, self._whole_frame(h, w, tiling), **io)
        engine = self._engine_for(tiling) if min(h, w) >= tiling.tile else None
        if engine is None:
            return run_tiled(frame, self.infer, tiling, **io)
        return run_tiled(frame, engine, replace(tiling, static=True), **io)

    def _whole_frame(self, h: int, w: int, tiling: TileSpec) -> TileSpec:
        """A model that must not be tiled runs each frame as one tile, up to a size."""
        spec = self.spec
        why = f"{self.path.name} is not tileable: {spec.not_tileable}"
        if spec.static_side is not None:
            if (h, w) != (spec.static_side, spec.static_side):
                raise ImggenError(f"{why}; it takes {spec.static_side} px frames only")
            return tiling
        if h * w > WHOLE_FRAME_PIXELS:
            raise ImggenError(
                f"{why}; frames up to {WHOLE_FRAME_PIXELS // 1_000_000} Mpx run whole, this "
                f"one is {w}x{h}"
            )
        side = -(-max(h, w) // spec.multiple) * spec.multiple
        return replace(tiling, tile=side, overlap=0, static=False, batch=1)

    def _engine_for(self, tiling: TileSpec) -> TileModel | None:
        key = (tiling.tile, tiling.batch)
        if key not in self._engines:
            self._engines[key] = self._load_engine(tiling)
        engine = self._engines[key]
        return None if engine is None else engine.infer

    def _load_engine(self, tiling: TileSpec) -> OpenVinoImageEngine | None:
        probed = self.spec
        if self.engine == "onnxruntime" or probed.static_side is not None or probed.not_tileable:
            return None
        if probed.scalars:  # refused at load for an explicit openvino
            return None
        from .backends.platform import cpu_supports
        from .engines.image_engine import ImageEngineSpec, OpenVinoImageEngine, build_image_engine
        from .engines.pipeline import NotBuiltAhead

        precision = "bf16" if cpu_supports("bf16") is None else "fp32"
        explicit = self.engine == "openvino"
        if not explicit:
            try:
                import openvino  # noqa: F401
            except ImportError:
                return None
            if precision == "fp32":  # OpenVINO FP32 runs at about ONNX Runtime's speed
                return None
        spec = ImageEngineSpec(
            self.path,
            precision,
            tiling.tile,
            tiling.batch,
            cache_dir=self._cache_dir,
            retry_refused=explicit,
            may_build=explicit or self._build is not None,
        )
        try:
            outcome = build_image_engine(spec, self, self._build or (lambda _: None))
        except NotBuiltAhead:
            return None  # builds are off and none was built ahead: ONNX Runtime, quietly
        except ImggenError as e:
            if explicit:
                raise
            print(f"imggen-rt: {self.path.name} stays on ONNX Runtime: {e}", file=sys.stderr)
            return None
        timing = outcome.manifest.timing
        if not explicit and timing.get("engine_ms", 0.0) >= timing.get("fp32_ms", 0.0):
            return None  # built, gated, and no faster here
        return OpenVinoImageEngine(outcome.artifact, precision, self.threads)

    def describe(self) -> dict[str, Any]:
        s = self.spec
        engines = [f"openvino {t} px x{b}" for (t, b), e in self._engines.items() if e]
        return {
            "model": self.path.name,
            "engines": engines or ["onnxruntime"],
            "scale": s.scale,
            "multiple": s.multiple,
            "static_tile": s.static_side,
            "channels": [s.channels, s.out_channels],
            "input_range": list(s.input_range),
            "output_range": list(s.output_range),
            "scalars": s.scalars,
            "receptive_field": s.receptive_field,
            "tileable": not s.not_tileable,
            "not_tileable": s.not_tileable or None,
            "card": s.card is not None,
        }
