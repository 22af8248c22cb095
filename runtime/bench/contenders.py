"""The things a benchmark times, one object each, living in their own worker process.

imggen-rt's backends are timed end to end, stage by stage (seeds -> latents -> infer ->
uint8 frames), exactly as `ImageGenerator` runs them. Peers are timed the way their own docs
call them, inference alone on fixed latents: that is what a user of that library gets.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..card import CLASS_INPUT, LATENT_INPUT, ModelCard
from ..contract import Feeds, graph_inputs
from ..errors import ImggenError
from ..generator import feeds_for_seeds
from .config import IMGGEN_BACKENDS

# Stages in pipeline order. On a CPU backend nothing crosses to a device: the copy stages
# are reported as null (n/a), never as a measured 0.
STAGES = ("latents", "h2d", "infer", "postprocess", "d2h")


class Contender(Protocol):
    name: str
    kind: str  # "imggen-rt" (end to end) or "peer" (inference alone)
    card: ModelCard

    def prepare(self, batch: int) -> None: ...

    def step(self) -> dict[str, float]:
        """One iteration: ms per stage that ran, and "total"."""
        ...

    def probe(self, feeds: Feeds) -> np.ndarray:
        """The graph's float output for these feeds (checked against ONNX Runtime)."""
        ...

    def describe(self) -> dict[str, Any]: ...


def _ms(t0: float, t1: float) -> float:
    return (t1 - t0) * 1e3


def probe_inputs(card: ModelCard, batch: int = 2) -> Feeds:
    """Fixed inputs for the peers and the parity probe: seeds 0..batch-1, as the generator
    makes them."""
    return feeds_for_seeds(card, range(batch))


class ImggenContender:
    """imggen-rt's pipeline on one backend, timed per stage: the generator's own steps."""

    kind = "imggen-rt"

    def __init__(self, backend: str, model: Path, threads: int | None) -> None:
        from ..backend_factory import create_backend, explain_auto
        from ..generator import ImageGenerator

        self.name = backend
        self.choice = str(explain_auto(model)) if backend == "auto" else None
        self.backend = create_backend(backend, model, threads=threads)
        self.gen = ImageGenerator(self.backend, model)
        self.card = self.backend.card
        self._next_seed = 0
        self.prepare(1)

    def prepare(self, batch: int) -> None:
        card = self.card
        self.batch = batch
        self._z = np.empty((batch, card.latent_dim), np.float32)
        self._frames = np.empty((batch, card.height, card.width, card.channels), np.uint8)

    def step(self) -> dict[str, float]:
        start = self._next_seed
        self._next_seed += self.batch
        t0 = time.perf_counter()
        feeds = self.gen.feeds_for_seeds(range(start, start + self.batch), latents=self._z)
        t1 = time.perf_counter()
        images = self.backend.infer(feeds)
        t2 = time.perf_counter()
        self.gen.to_frames(images, out=self._frames)
        t3 = time.perf_counter()
        return {
            "latents": _ms(t0, t1),
            "infer": _ms(t1, t2),
            "postprocess": _ms(t2, t3),
            "total": _ms(t0, t3),
        }

    def probe(self, feeds: Feeds) -> np.ndarray:
        return np.array(self.backend.infer(feeds), dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": self.backend.describe()}
        if self.choice is not None:
            info["auto_choice"] = self.choice
        return info


class _FixedInputPeer:
    """A peer fed the same fixed latents every iteration (latent making is not its job)."""

    kind = "peer"
    name = "peer"

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.prepare(1)

    def prepare(self, batch: int) -> None:
        self.inputs = self._graph_inputs(probe_inputs(self.card, batch))

    def run(self, inputs: dict[str, np.ndarray]) -> Any:
        """One call of the peer on the graph's inputs by name."""
        raise NotImplementedError

    def step(self) -> dict[str, float]:
        t0 = time.perf_counter()
        self.run(self.inputs)
        t1 = time.perf_counter()
        return {"infer": _ms(t0, t1), "total": _ms(t0, t1)}

    def probe(self, feeds: Feeds) -> np.ndarray:
        return np.array(self.run(self._graph_inputs(feeds)), dtype=np.float32)

    def _graph_inputs(self, feeds: Feeds) -> dict[str, np.ndarray]:
        return graph_inputs(self.card.input_specs, self.card.num_classes, feeds)


class OrtDefaultPeer(_FixedInputPeer):
    """onnxruntime.InferenceSession with default options, `session.run` as its docs show."""

    name = "ort-default"

    def __init__(self, model: Path, card: ModelCard) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        self.version = ort.__version__
        super().__init__(card)

    def run(self, inputs: dict[str, np.ndarray]) -> Any:
        return self.session.run(None, inputs)[0]

    def describe(self) -> dict[str, Any]:
        return {"engine": f"onnxruntime {self.version}", "options": "defaults"}


class OpenVinoDirectPeer(_FixedInputPeer):
    """OpenVINO called directly: compile_model(CPU, LATENCY hint), then compiled(inputs)."""

    name = "openvino-direct"

    def __init__(self, model: Path, card: ModelCard) -> None:
        from ..backends.openvino import FP32, import_openvino

        ov = import_openvino()
        # FP32 as the ONNX is: OpenVINO's own default is bfloat16 on AMX CPUs, and a peer in
        # another precision would not be the same computation (see backends/openvino.py).
        config = {"PERFORMANCE_HINT": "LATENCY", **FP32}
        self.compiled = ov.Core().compile_model(str(model), "CPU", config)
        self.version = ov.__version__
        super().__init__(card)

    def run(self, inputs: dict[str, np.ndarray]) -> Any:
        return self.compiled(inputs)[0]

    def describe(self) -> dict[str, Any]:
        return {
            "engine": f"openvino {self.version}",
            "options": "PERFORMANCE_HINT=LATENCY, INFERENCE_PRECISION_HINT=f32, dynamic batch",
        }


class TorchEagerPeer(_FixedInputPeer):
    """torch eager, inference mode, on the generator of the checkpoint the ONNX came from."""

    name = "torch-eager"

    def __init__(self, checkpoint: Path, card: ModelCard) -> None:
        import torch

        from ..export.checkpoint import generator_from_checkpoint

        self.torch = torch
        self.generator, _ = generator_from_checkpoint(checkpoint)
        super().__init__(card)

    def run(self, inputs: dict[str, np.ndarray]) -> Any:
        # The project's own checkpoints: a version 1 contract (z, class_id).
        torch = self.torch
        with torch.inference_mode():
            zt = torch.from_numpy(inputs[LATENT_INPUT])
            if CLASS_INPUT not in inputs:
                return self.generator(zt).numpy()
            return self.generator(zt, torch.from_numpy(inputs[CLASS_INPUT])).numpy()

    def describe(self) -> dict[str, Any]:
        torch = self.torch
        return {
            "engine": f"torch {torch.__version__}",
            "threads": torch.get_num_threads(),
            "options": "eager, inference_mode, float32, NCHW",
        }


class TorchBf16Peer(TorchEagerPeer):
    """torch with bf16 autocast and channels_last weights: what a torch user on a CPU with
    bf16 instructions (AMX, AVX512-BF16) would run instead."""

    name = "torch-bf16"

    def __init__(self, checkpoint: Path, card: ModelCard) -> None:
        super().__init__(checkpoint, card)
        self.generator = self.generator.to(memory_format=self.torch.channels_last)

    def run(self, inputs: dict[str, np.ndarray]) -> Any:
        torch = self.torch
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            zt = torch.from_numpy(inputs[LATENT_INPUT])
            args = (
                [zt] if CLASS_INPUT not in inputs else [zt, torch.from_numpy(inputs[CLASS_INPUT])]
            )
            return self.generator(*args).float().numpy()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "options": "inference_mode, autocast bf16, channels_last"}


class OpenVinoBf16DirectPeer(_FixedInputPeer):
    """OpenVINO bf16 called directly, whole graph (a bf16 output so the plugin's FP32 tail rule
    does not keep the ConvTranspose layers in FP32): what an OpenVINO user would write."""

    name = "openvino-bf16-direct"

    def __init__(self, model: Path, card: ModelCard) -> None:
        from ..backends.openvino import bf16_output, import_openvino

        ov = import_openvino()
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "bf16"}
        core = ov.Core()
        self.compiled = core.compile_model(
            bf16_output(ov, core.read_model(str(model))), "CPU", config
        )
        self.version = ov.__version__
        super().__init__(card)

    def run(self, inputs: dict[str, np.ndarray]) -> Any:
        bits = self.compiled(inputs)[0].view(np.uint16)
        return (bits.astype(np.uint32) << 16).view(np.float32)

    def describe(self) -> dict[str, Any]:
        return {
            "engine": f"openvino {self.version}",
            "options": "PERFORMANCE_HINT=LATENCY, INFERENCE_PRECISION_HINT=bf16, bf16 output",
        }


def torch_unavailable(checkpoint: Path | None) -> str | None:
    """Why torch eager cannot run on the same weights here, or None when it can."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return "torch is not installed (pip install 'imggen-rt[train]')"
    if checkpoint is None:
        return (
            "no torch weights for this ONNX: pass --torch-checkpoint (the training checkpoint "
            "it was exported from); a generator rebuilt from the card's architecture would "
            "have other weights"
        )
    if not checkpoint.exists():
        return f"torch checkpoint {checkpoint} does not exist"
    return None


def make_contender(
    name: str, model: Path, threads: int | None, torch_checkpoint: Path | None
) -> Contender:
    """The contender `name`, or ImggenError with the one-line reason it cannot run here."""
    from ..onnx_graph import load_model, read_card

    if name in IMGGEN_BACKENDS:
        return ImggenContender(name, model, threads)
    card = read_card(load_model(model), model.name)
    if name == "ort-default":
        return OrtDefaultPeer(model, card)
    if name == "openvino-direct":
        return OpenVinoDirectPeer(model, card)
    if name == "openvino-bf16-direct":
        return OpenVinoBf16DirectPeer(model, card)
    if name in ("torch-eager", "torch-bf16"):
        why = torch_unavailable(torch_checkpoint)
        if why is not None:
            raise ImggenError(why)
        assert torch_checkpoint is not None
        peer = TorchEagerPeer if name == "torch-eager" else TorchBf16Peer
        return peer(torch_checkpoint, card)
    raise ImggenError(f"unknown contender {name!r}")
