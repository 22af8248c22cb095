"""Generator -> ONNX: dynamo exporter, dynamic batch, model card, checker, enforced parity.

The file is written only after it passed `onnx.checker` and matched torch on fixed seeds, so a
failed export never leaves a model behind that looks usable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from .. import __version__
from ..atomic import atomic_write_bytes, temp_path_beside
from ..card import CLASS_INPUT, LATENT_INPUT, ModelCard
from ..contract import graph_inputs
from ..engines.parity import ParityReport, check_parity, gate_inputs, require_parity
from ..errors import ImggenError, first_line
from ..fp16 import fp16_model_with_card
from ..importer import ImportOptions, Inferred, infer_contract, parse_range
from ..latents import latents_for_seeds
from ..metrics import max_abs_error, psnr
from ..onnx_graph import read_card, write_card
from ..post.ocio import checked_colour_space
from .checkpoint import generator_from_checkpoint

PARITY_TOLERANCE = 1e-4
OUTPUT_NAME = "image"
STACK_TRACE_KEY = "pkg.torch.onnx.stack_trace"


@dataclass(frozen=True)
class ParityResult:
    max_abs_error: float
    psnr_db: float
    seeds: int

    def __str__(self) -> str:
        return (
            f"max abs error {self.max_abs_error:.2e}, PSNR {self.psnr_db:.1f} dB "
            f"on {self.seeds} seeds"
        )


class _ExportWrapper(nn.Module):
    """Fixes the graph's input names and order: z, then class_id for conditional models."""

    def __init__(self, generator: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.generator = generator
        self.conditional = conditional

    def forward(self, z: torch.Tensor, class_id: torch.Tensor | None = None) -> torch.Tensor:
        if self.conditional:
            return self.generator(z, class_id)
        return self.generator(z)


def export_generator(
    generator: nn.Module, card: ModelCard, output: Path, opset: int = 18
) -> ParityResult:
    """Export, annotate, check, verify parity, then write `output` atomically."""
    if opset < 18:
        raise ImggenError("the dynamo exporter needs opset >= 18")
    generator = generator.eval()
    wrapper = _ExportWrapper(generator, card.conditional).eval()
    batch = torch.export.Dim("batch", min=1, max=4096)
    z = torch.from_numpy(latents_for_seeds([0, 1], card.latent_dim))
    if card.conditional:
        args: tuple[torch.Tensor, ...] = (z, torch.tensor([0, 1 % card.num_classes]))
        dynamic: dict[str, Any] = {"z": {0: batch}, "class_id": {0: batch}}
        names = [LATENT_INPUT, CLASS_INPUT]
    else:
        args, dynamic, names = (z,), {"z": {0: batch}}, [LATENT_INPUT]
    model = dynamo_export(wrapper, args, names, dynamic, opset, "the generator")
    write_card(model, card)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as e:
        raise ImggenError(f"exported model fails onnx.checker: {first_line(e)}") from None
    read_card(model, output.name)  # the card must describe the graph it sits in

    reference = _torch_outputs(generator, card)
    parity = _parity(model, card, reference)
    if not parity.max_abs_error <= PARITY_TOLERANCE:
        raise ImggenError(
            f"ONNX output differs from torch: {parity} (tolerance {PARITY_TOLERANCE:g}); "
            "nothing written"
        )
    _save_atomic(model, output)
    return parity


def dynamo_export(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    names: list[str],
    dynamic: dict[str, Any],
    opset: int = 18,
    what: str = "the model",
    outputs: tuple[str, ...] = (OUTPUT_NAME,),
) -> onnx.ModelProto:
    """torch's dynamo exporter (the one home for it: generators, the eval classifiers, the
    upscaler) with the batch axis named 'batch' on every input and output, and no source
    locations (they would carry the exporting machine's paths)."""
    try:
        with quiet_exporter():
            program = torch.onnx.export(
                module,
                args,
                dynamo=True,
                opset_version=opset,
                input_names=names,
                output_names=list(outputs),
                dynamic_shapes=dynamic,
                external_data=False,
                verbose=False,
            )
    except Exception as e:
        raise ImggenError(f"torch could not export {what}: {first_line(e)}") from None
    assert program is not None
    model = program.model_proto
    strip_source_locations(model)
    _name_batch_axes(model)
    return model


def export_fp16(fp32_path: Path, output: Path, card: ModelCard) -> ParityReport:
    """The FP16 twin of an exported model, written only if it passes the parity gate."""
    model = onnx.load(str(fp32_path))
    half = fp16_model_with_card(model, card)
    report = check_parity(_onnx_outputs(model, card), _onnx_outputs(half, card), card.output_range)
    require_parity(report, "the FP16 ONNX")
    _save_atomic(half, output)
    return report


@torch.no_grad()
def _torch_outputs(generator: nn.Module, card: ModelCard) -> np.ndarray:
    feeds = gate_inputs(card)
    z = torch.from_numpy(feeds.z)
    if feeds.class_ids is None:
        return generator(z).numpy()
    return generator(z, torch.from_numpy(feeds.class_ids)).numpy()


def _onnx_outputs(model: onnx.ModelProto, card: ModelCard) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    inputs = graph_inputs(card.input_specs, card.num_classes, gate_inputs(card))
    return np.asarray(session.run(None, inputs)[0], dtype=np.float32)


def _parity(model: onnx.ModelProto, card: ModelCard, reference: np.ndarray) -> ParityResult:
    test = _onnx_outputs(model, card)
    low, high = card.output_range
    return ParityResult(
        max_abs_error(reference, test), psnr(reference, test, high - low), len(test)
    )


def _name_batch_axes(model: onnx.ModelProto) -> None:
    """Name the dynamic batch axis 'batch' on every input and output, whatever the exporter
    chose."""
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"


def _save_atomic(model: onnx.ModelProto, output: Path) -> None:
    try:
        atomic_write_bytes(output, model.SerializeToString())
    except OSError as e:
        raise ImggenError(f"cannot write {output}: {e.strerror}") from None


def strip_source_locations(model: onnx.ModelProto) -> None:
    """Drop the exporter's per-node Python stack traces: they name files of the machine that
    exported the model (and its user's paths) and mean nothing to a runtime."""
    for node in model.graph.node:
        keep = [p for p in node.metadata_props if p.key != STACK_TRACE_KEY]
        if len(keep) != len(node.metadata_props):
            del node.metadata_props[:]
            node.metadata_props.extend(keep)


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """The dynamo exporter narrates every stage on stdout and warns about deprecations inside
    torch itself; users of `imggen-rt export` need only its result and real errors."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


# -- the CLI verb -------------------------------------------------------------------------------
def card_for_checkpoint(
    meta: dict[str, Any], description: str = "", colour_space: str = ""
) -> ModelCard:
    gan = meta["gan_config"]
    return ModelCard(
        latent_dim=int(gan["latent_dim"]),
        height=int(gan["resolution"]),
        width=int(gan["resolution"]),
        channels=int(gan["channels"]),
        output_range=(-1.0, 1.0),
        class_names=tuple(meta["class_names"]),
        producer=f"imggen-rt {__version__} (torch {torch.__version__})",
        training_data=str(meta["data_name"]),
        description=description or f"DCGAN trained {meta['step']} steps",
        extra={
            "architecture": json.dumps(gan, sort_keys=True),
            "train_step": str(meta["step"]),
            # The training images' alpha as PNG stores it (export.emoji): colour not multiplied.
            **({"alpha": "straight"} if int(gan["channels"]) == 4 else {}),
        },
        colour_space=checked_colour_space(colour_space),
    )


def load_module_generator(spec: str, weights: Path) -> nn.Module:
    """Bring your own generator: 'pkg.mod:factory' and a state dict."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ImggenError(f"--module must look like 'pkg.mod:factory', got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ImggenError(f"cannot import {spec}: {e}") from None
    generator = factory()
    if not isinstance(generator, nn.Module):
        raise ImggenError(f"{spec}() returned {type(generator).__name__}, not an nn.Module")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        generator.load_state_dict(state)
    except Exception as e:
        raise ImggenError(f"cannot load state dict {weights}: {first_line(e)}") from None
    return generator.eval()


def latent_shape_of(generator: nn.Module) -> tuple[tuple[int, ...], str]:
    """The per-image latent shape a generator's first layer takes, and why: a Linear takes
    (Z,); a ConvTranspose2d or Conv2d first (PyTorch-examples DCGAN) takes (Z, 1, 1)."""
    for layer in generator.modules():
        if isinstance(layer, nn.Embedding):
            continue  # a class embedding comes first in many conditional generators
        if isinstance(layer, nn.Linear):
            return (layer.in_features,), f"its first layer is Linear({layer.in_features}, ...)"
        if isinstance(layer, (nn.ConvTranspose2d, nn.Conv2d)):
            name = type(layer).__name__
            why = f"its first layer is {name}({layer.in_channels}, ...): a (Z, 1, 1) latent"
            return (layer.in_channels, 1, 1), why
    raise ImggenError("cannot tell the latent's shape from the module: pass --latent-shape")


def export_module(
    spec: str,
    weights: Path,
    output: Path,
    contract: ImportOptions,
    latent_shape: tuple[int, ...] | None = None,
    opset: int = 18,
) -> tuple[ParityResult, Inferred, list[str]]:
    """A user's own generator module -> ONNX with a card inferred the way `imggen-rt import`
    infers one (the same flags), torch parity enforced. Returns the parity, the inferred
    contract and warnings (a flag the probe disagrees with is kept, with a warning)."""
    generator = load_module_generator(spec, weights)
    why_shape = "--latent-shape"
    if latent_shape is None:
        latent_shape, why_shape = latent_shape_of(generator)
    if not latent_shape or any(d < 1 for d in latent_shape):
        raise ImggenError(f"--latent-shape must be positive sizes, got {latent_shape}")
    conditional = contract.class_names is not None
    probe = torch.from_numpy(latents_for_seeds([0, 1], int(np.prod(latent_shape))))
    z = probe.reshape(2, *latent_shape)
    args: tuple[torch.Tensor, ...] = (z, torch.tensor([0, 1])) if conditional else (z,)
    names = [LATENT_INPUT, CLASS_INPUT][: len(args)]
    batch = torch.export.Dim("batch", min=1, max=4096)
    dynamic = {name: {0: batch} for name in names}
    wrapper = _ExportWrapper(generator, conditional).eval()
    try:
        with torch.no_grad():
            wrapper(*args)  # a module that cannot run on this latent fails here, in one line
    except Exception as e:
        raise ImggenError(f"torch could not run {spec}: {first_line(e)}") from None
    model = dynamo_export(wrapper, args, names, dynamic, opset, spec)
    inferred, warnings_ = _contract_by_probe(model, contract, output)
    inferred.evidence.insert(0, f"latent shape {latent_shape}: {why_shape}")
    card = inferred.card
    write_card(model, card)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as e:
        raise ImggenError(f"exported model fails onnx.checker: {first_line(e)}") from None
    parity = _parity(model, card, _module_outputs(wrapper, card))
    if not parity.max_abs_error <= PARITY_TOLERANCE:
        raise ImggenError(
            f"ONNX output differs from torch: {parity} (tolerance {PARITY_TOLERANCE:g}); "
            "nothing written"
        )
    _save_atomic(model, output)
    return parity, inferred, warnings_


def _contract_by_probe(
    model: onnx.ModelProto, contract: ImportOptions, output: Path
) -> tuple[Inferred, list[str]]:
    """The importer's inference on the exported graph (saved to a scratch file beside the
    output). A range flag the probe disagrees with is kept, with a warning: the user knows
    the model's training better than eight random seeds do."""
    options = dataclasses.replace(
        contract,
        latent=LATENT_INPUT,
        class_input=CLASS_INPUT if contract.class_names is not None else None,
        output_range="auto",
    )
    try:
        scratch = temp_path_beside(output)
    except OSError as e:
        raise ImggenError(f"cannot write beside {output}: {e.strerror}") from None
    try:
        onnx.save(model, str(scratch))
        inferred = infer_contract(scratch, options)
    finally:
        scratch.unlink(missing_ok=True)
    card = inferred.card
    warnings_: list[str] = []
    if contract.output_range != "auto":
        flagged = parse_range(contract.output_range)
        if flagged != card.output_range:
            warnings_.append(
                f"--output-range {contract.output_range} disagrees with the probe "
                f"({inferred.evidence_for('range')}); using the flag"
            )
        inferred.card = dataclasses.replace(card, output_range=flagged)
    producer = f"imggen-rt {__version__} (torch {torch.__version__}) via --module"
    inferred.card = dataclasses.replace(inferred.card, producer=producer)
    return inferred, warnings_


@torch.no_grad()
def _module_outputs(wrapper: nn.Module, card: ModelCard) -> np.ndarray:
    feeds = graph_inputs(card.input_specs, card.num_classes, gate_inputs(card))
    args = [torch.from_numpy(feeds[spec.name]) for spec in card.input_specs]
    return np.asarray(wrapper(*args).numpy(), dtype=np.float32)


@dataclass(frozen=True)
class ExportResult:
    """What `export_checkpoint` wrote, with the parity that let it write them."""

    output: Path
    parity: ParityResult
    fp16_output: Path | None = None
    fp16_parity: ParityReport | None = None


def export_checkpoint(
    checkpoint: Path,
    output: Path,
    *,
    fp16: bool = False,
    description: str = "",
    colour_space: str = "",
    opset: int = 18,
) -> ExportResult:
    """A training checkpoint -> ONNX with its card, torch parity enforced; with `fp16` an FP16
    twin beside it (OUTPUT.fp16.onnx), through the parity gate."""
    generator, meta = generator_from_checkpoint(checkpoint)
    card = card_for_checkpoint(meta, description, colour_space)
    parity = export_generator(generator, card, output, opset=opset)
    return _with_fp16(ExportResult(output, parity), card, fp16)


def _with_fp16(result: ExportResult, card: ModelCard, fp16: bool) -> ExportResult:
    if not fp16:
        return result
    fp16_path = result.output.with_suffix(".fp16.onnx")
    report = export_fp16(result.output, fp16_path, card)
    return dataclasses.replace(result, fp16_output=fp16_path, fp16_parity=report)
