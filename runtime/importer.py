"""`imggen-rt import`: a card for a generator ONNX written elsewhere, inferred from evidence.

Each input's role comes from its dtype, rank, shape and name; the number of classes behind an
id input from the embedding table it indexes; the output's layout from where its channel axis
is; its value range from running fixed seeds through ONNX Runtime. Every decision is kept
with the evidence for it (`Inferred.evidence`), so a user sees *why*, and where the evidence is
silent or contradictory the import stops with one line naming the flag that settles it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .card import ModelCard, TensorInfo
from .contract import (
    CHANNEL_ORDERS,
    CLASS_ENCODINGS,
    LAYOUTS,
    NOISE_MODES,
    InputSpec,
    OutputSpec,
    graph_inputs,
)
from .errors import ImggenError, first_line
from .onnx_graph import class_table_rows
from .post.ocio import checked_colour_space

PROBE_SEEDS = 8
# Names that say "truncation knob": StyleGAN's psi, and what ports call it. 1 means none.
TRUNCATION_NAMES = re.compile(r"^(psi|trunc|truncation|truncation_psi)$", re.I)
CLASS_NAMES = re.compile(r"(class|label|cond|onehot|one_hot|^c$|^y$)", re.I)
NOISE_NAMES = re.compile(r"noise", re.I)
RANGES = {"-1:1": (-1.0, 1.0), "0:1": (0.0, 1.0), "0:255": (0.0, 255.0)}


@dataclass(frozen=True)
class ImportOptions:
    """What the user says where the graph cannot (all optional; None: infer)."""

    latent: str | None = None
    class_input: str | None = None  # NAME or NAME:ids|onehot
    class_names: tuple[str, ...] | None = None
    noise: tuple[str, ...] = ()  # MODE (every noise input) or NAME:MODE
    scalars: tuple[str, ...] = ()  # NAME=DEFAULT
    output: str | None = None
    layout: str | None = None
    channel_order: str | None = None
    output_range: str = "auto"  # auto | -1:1 | 0:1 | 0:255 | LOW:HIGH
    description: str = ""
    colour_space: str = ""  # the output's OCIO colour space; "": sRGB


@dataclass
class Inferred:
    """The card inferred for a graph, and the evidence behind each decision."""

    card: ModelCard
    evidence: list[str] = field(default_factory=list)
    probe: dict[str, float] = field(default_factory=dict)

    def evidence_for(self, topic: str) -> str:
        """The evidence line about one decision ('range', 'layout', ...)."""
        return next((line for line in self.evidence if line.startswith(topic)), "")


def infer_contract(path: Path, options: ImportOptions = ImportOptions()) -> Inferred:
    """The contract of the generator ONNX at `path`, or ImggenError naming the flag to pass."""
    from .onnx_graph import graph_io, load_model

    model = load_model(path)
    inputs, outputs = graph_io(model)
    evidence: list[str] = []
    specs, class_count = _input_roles(model, inputs, options, evidence)
    names = _class_names(specs, class_count, options, evidence)
    output = _pick_output(outputs, options)
    session = _session(model, path)
    provisional = _provisional_card(specs, names, output, options)
    images = _probe(session, provisional, output.name)
    layout = _layout(output, images.shape, options, evidence)
    if layout == "nhwc":
        _, height, width, channels = images.shape
    else:
        _, channels, height, width = images.shape
    if channels not in (1, 3, 4):
        raise ImggenError(
            f"output '{output.name}' has {channels} channels: this runtime makes grey (1), RGB "
            "(3) or RGBA (4, straight alpha) frames"
        )
    low, high, probe = _output_range(images, options, evidence)
    order = options.channel_order or "rgb"
    if options.channel_order is None:
        evidence.append(
            "channel order rgb: a graph carries no evidence of it (--channel-order bgr for a "
            "model that writes BGR)"
        )
    if order not in CHANNEL_ORDERS:
        raise ImggenError(f"--channel-order must be rgb or bgr, got {order!r}")
    card = ModelCard(
        latent_dim=next(s.size for s in specs if s.role == "latent"),
        height=int(height),
        width=int(width),
        channels=int(channels),
        output_range=(low, high),
        class_names=names,
        producer=f"imggen-rt {__version__} import of {path.name}",
        description=options.description,
        colour_space=checked_colour_space(options.colour_space),
        inputs=tuple(specs),
        output=OutputSpec(output.name, layout, order),
    )
    card.check_values(path.name)
    card.validate_graph(inputs, outputs, path.name)
    return Inferred(card, evidence, probe)


def import_model(src: Path, dst: Path, options: ImportOptions = ImportOptions()) -> Inferred:
    """Infer the contract of `src` and write a copy with the card to `dst` (atomically; the
    source file is never modified)."""
    from .atomic import atomic_write_bytes
    from .onnx_graph import load_model, write_card

    if dst.resolve() == src.resolve():
        raise ImggenError(f"{dst} is the input file: import writes a copy, pick another -o")
    inferred = infer_contract(src, options)
    model = load_model(src)
    write_card(model, inferred.card)
    try:
        atomic_write_bytes(dst, model.SerializeToString())
    except OSError as e:
        raise ImggenError(f"cannot write {dst}: {e.strerror}") from None
    return inferred


# -- the inputs ------------------------------------------------------------------------------


def _input_roles(
    model: Any, inputs: Sequence[TensorInfo], options: ImportOptions, evidence: list[str]
) -> tuple[list[InputSpec], int | None]:
    by_name = {t.name: t for t in inputs}
    for flag, name in (("--latent", options.latent), ("--class", _class_flag(options)[0])):
        if name is not None and name not in by_name:
            raise ImggenError(f"{flag} {name}: the graph has no such input ({list(by_name)})")
    noise_modes = _noise_modes(options.noise, by_name)
    scalar_defaults = _scalar_defaults(options.scalars, by_name)
    roles: dict[str, str] = {}
    class_name, class_encoding = _class_flag(options)
    for t in inputs:
        roles[t.name] = _role_of(t, options, class_name, noise_modes, scalar_defaults, evidence)
    latents = [n for n, r in roles.items() if r == "latent?"]
    if options.latent is None and len(latents) > 1:
        raise ImggenError(
            f"inputs {', '.join(latents)} could each be the latent: pass --latent NAME"
        )
    if options.latent is None and not latents:
        raise ImggenError(
            f"no input looks like a latent (float (B, Z) or (B, Z, 1, 1)) among {list(by_name)}: "
            "pass --latent NAME"
        )
    classes = [n for n, r in roles.items() if r.startswith("class")]
    if len(classes) > 1:
        raise ImggenError(f"inputs {', '.join(classes)} could each be the class: pass --class NAME")
    noise_inputs = [n for n, r in roles.items() if r == "noise"]
    unset = [n for n in noise_inputs if n not in noise_modes and "*" not in noise_modes]
    if unset:
        raise ImggenError(
            f"noise input(s) {', '.join(unset)}: choose --noise normal (drawn per image from its "
            "seed) or --noise zeros (NAME:MODE for one input)"
        )
    specs: list[InputSpec] = []
    class_count: int | None = None
    for t in inputs:
        role = roles[t.name]
        shape = _batch_shape(t)
        if role == "latent?":
            specs.append(InputSpec(t.name, "latent", shape, t.dtype))
        elif role.startswith("class"):
            encoding = class_encoding or ("ids" if t.dtype.startswith("int") else "onehot")
            if encoding == "onehot":
                class_count = int(np.prod([d or 1 for d in shape[1:]], dtype=np.int64))
                evidence.append(f"'{t.name}': one-hot classes, {class_count} slots {role[6:]}")
            else:
                class_count = class_table_rows(model, t.name)
                found = f"{class_count} rows in the table it indexes" if class_count else "?"
                evidence.append(f"'{t.name}': class ids {role[6:]}; classes: {found}")
            specs.append(InputSpec(t.name, "class", shape, t.dtype, encoding=encoding))
        elif role == "noise":
            mode = noise_modes.get(t.name) or noise_modes["*"]
            specs.append(InputSpec(t.name, "noise", shape, t.dtype, mode=mode))
        elif role == "scalar":
            default = scalar_defaults.get(t.name, 1.0)
            specs.append(InputSpec(t.name, "scalar", shape, t.dtype, default=default))
    return specs, class_count


def _role_of(
    t: TensorInfo,
    options: ImportOptions,
    class_name: str | None,
    noise_modes: dict[str, str],
    scalar_defaults: dict[str, float],
    evidence: list[str],
) -> str:
    """'latent?', 'class (why)', 'noise' or 'scalar' for one graph input."""
    shape, name = t.shape, t.name
    rank = len(shape)
    if name == options.latent:
        evidence.append(f"'{name}': latent (--latent)")
        return "latent?"
    if name == class_name:
        return "class (--class)"
    if name in noise_modes:
        evidence.append(f"'{name}': noise, {noise_modes[name]} (--noise)")
        return "noise"
    if name in scalar_defaults:
        evidence.append(f"'{name}': knob, default {scalar_defaults[name]:g} (--scalar)")
        return "scalar"
    if t.dtype.startswith("int"):
        if rank not in (1, 2) or (rank == 2 and shape[1] != 1):
            raise ImggenError(f"integer input '{name}' {_fmt(shape)} is not a class id per image")
        return "class (an integer input)"
    if t.dtype not in ("float32", "float16"):
        raise ImggenError(f"input '{name}' is {t.dtype}: no role takes it")
    static_tail = all(isinstance(d, int) for d in shape[1:])
    if rank == 0 or (rank == 1) or (rank == 2 and shape[1] == 1):
        if TRUNCATION_NAMES.match(name):
            evidence.append(f"'{name}': truncation knob by its name, default 1 (= none)")
            return "scalar"
        raise ImggenError(
            f"input '{name}' {_fmt(shape)} looks like a knob: give its default with "
            f"--scalar {name}=VALUE"
        )
    # Shapes first, names only to break ties: tutorials call the latent "noise" as often as
    # StyleGAN ports call their noise maps so.
    latent_named = options.latent is not None  # then no other input is a latent by its shape
    if rank == 4 and static_tail and shape[2] == 1 and shape[3] == 1 and shape[1] != 1:
        if latent_named:
            raise ImggenError(
                f"input '{name}' {_fmt(shape)} is shaped like a latent but --latent names "
                f"'{options.latent}': pass --noise or --scalar for it"
            )
        evidence.append(f"'{name}': latent (B, Z, 1, 1), as DCGAN's first ConvTranspose takes")
        return "latent?"
    if rank == 4 and static_tail and shape[1] == 1:
        mode = noise_modes.get("*")
        evidence.append(
            f"'{name}': noise map (B, 1, H, W)" + (f", {mode} (--noise)" if mode else "")
        )
        return "noise"
    if NOISE_NAMES.search(name) and static_tail and rank != 2:
        mode = noise_modes.get("*")
        evidence.append(f"'{name}': noise by its name" + (f", {mode} (--noise)" if mode else ""))
        return "noise"
    if rank == 4 and static_tail and (shape[1] in (1, 3, 4) or shape[3] in (1, 3, 4)):
        raise ImggenError(
            f"input '{name}' {_fmt(shape)} is an image: image-conditioned models are not run by "
            "this runtime yet"
        )
    if rank == 2 and static_tail:
        if CLASS_NAMES.search(name) or latent_named:
            return f"class (a float (B, {shape[1]}) input besides the latent)"
        evidence.append(f"'{name}': latent (B, {shape[1]}) float")
        return "latent?"
    raise ImggenError(
        f"input '{name}' {_fmt(shape)}: no role fits; pass --latent, --class, --noise or --scalar"
    )


def _class_flag(options: ImportOptions) -> tuple[str | None, str | None]:
    if options.class_input is None:
        return None, None
    name, _, encoding = options.class_input.partition(":")
    if encoding and encoding not in CLASS_ENCODINGS:
        raise ImggenError(f"--class {options.class_input}: encoding must be ids or onehot")
    return name, encoding or None


def _noise_modes(flags: Sequence[str], by_name: dict[str, TensorInfo]) -> dict[str, str]:
    """--noise MODE (every noise input: key '*') or NAME:MODE."""
    modes: dict[str, str] = {}
    for flag in flags:
        name, sep, mode = flag.rpartition(":")
        key = name if sep else "*"
        if mode not in NOISE_MODES:
            raise ImggenError(f"--noise {flag}: the mode must be normal or zeros")
        if key != "*" and key not in by_name:
            raise ImggenError(f"--noise {flag}: the graph has no input {key!r}")
        modes[key] = mode
    return modes


def _scalar_defaults(flags: Sequence[str], by_name: dict[str, TensorInfo]) -> dict[str, float]:
    defaults: dict[str, float] = {}
    for flag in flags:
        name, sep, value = flag.partition("=")
        if not sep:
            raise ImggenError(f"--scalar {flag}: write NAME=DEFAULT, e.g. psi=0.7")
        if name not in by_name:
            raise ImggenError(f"--scalar {flag}: the graph has no input {name!r}")
        try:
            defaults[name] = float(value)
        except ValueError:
            raise ImggenError(f"--scalar {flag}: {value!r} is not a number") from None
        if not np.isfinite(defaults[name]):
            raise ImggenError(f"--scalar {flag}: the default must be finite")
    return defaults


def _class_names(
    specs: Sequence[InputSpec], count: int | None, options: ImportOptions, evidence: list[str]
) -> tuple[str, ...]:
    has_class = any(s.role == "class" for s in specs)
    names = options.class_names
    if not has_class:
        if names:
            raise ImggenError("--classes given but the graph has no class input")
        return ()
    if names is None:
        found = f"{count} classes" if count else "its classes"
        raise ImggenError(
            f"the class input has {found}: name them with --classes a,b,c (their names are not "
            "in the graph)"
        )
    if count is not None and len(names) != count:
        raise ImggenError(f"--classes names {len(names)} classes; the graph has {count}")
    evidence.append(f"class names from --classes ({len(names)})")
    return tuple(names)


def _batch_shape(t: TensorInfo) -> tuple[int | None, ...]:
    """The input's shape, batch first: dynamic (None) or the size the graph was exported
    with (many foreign files take batch 1 only: the runtime then feeds it that); 0-d stays."""
    return tuple(d if isinstance(d, int) else None for d in t.shape)


# -- the output ------------------------------------------------------------------------------


def _pick_output(outputs: Sequence[TensorInfo], options: ImportOptions) -> TensorInfo:
    if options.output is not None:
        for t in outputs:
            if t.name == options.output:
                return t
        raise ImggenError(f"--output {options.output}: the graph has no such output")
    images = [t for t in outputs if len(t.shape) == 4]
    if len(images) != 1:
        raise ImggenError(
            f"the graph has {len(images)} 4-D outputs among {[t.name for t in outputs]}: "
            "pass --output NAME"
        )
    return images[0]


def _provisional_card(
    specs: Sequence[InputSpec], names: tuple[str, ...], output: TensorInfo, options: ImportOptions
) -> ModelCard:
    """A card good enough to make the probe's feeds (sizes and range are not known yet)."""
    return ModelCard(
        latent_dim=next(s.size for s in specs if s.role == "latent"),
        height=1,
        width=1,
        channels=1,
        class_names=names,
        inputs=tuple(specs),
        output=OutputSpec(output.name),
    )


def _session(model: Any, path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
    except Exception as e:
        raise ImggenError(f"ONNX Runtime cannot load {path}: {first_line(e)}") from None


def _probe(session: Any, card: ModelCard, output: str) -> np.ndarray:
    """The output for seeds 0..7 (batch 8, or one at a time for a fixed batch of 1)."""
    from .generator import feeds_for_seeds

    feeds = feeds_for_seeds(card, range(PROBE_SEEDS))
    fixed_one = any(
        isinstance(i.shape[0], int) and i.shape[0] == 1 for i in session.get_inputs() if i.shape
    )
    batches = [feeds.rows(slice(k, k + 1)) for k in range(len(feeds))] if fixed_one else [feeds]
    results = []
    for batch in batches:
        values = graph_inputs(card.input_specs, card.num_classes, batch)
        try:
            results.append(np.asarray(session.run([output], values)[0], dtype=np.float32))
        except Exception as e:
            raise ImggenError(f"running the model on probe seeds failed: {first_line(e)}") from None
    images = np.concatenate(results)
    if images.ndim != 4:
        raise ImggenError(f"output '{output}' has rank {images.ndim}; an image batch has 4")
    return images


def _layout(
    output: TensorInfo, shape: tuple[int, ...], options: ImportOptions, evidence: list[str]
) -> str:
    if options.layout is not None:
        if options.layout not in LAYOUTS:
            raise ImggenError(f"--layout must be nchw or nhwc, got {options.layout!r}")
        evidence.append(f"layout {options.layout} (--layout)")
        return options.layout
    channels_first = shape[1] in (1, 3, 4)
    channels_last = shape[3] in (1, 3, 4)
    if channels_first and channels_last and shape[1] != shape[3]:
        # Both could hold channels (a 4x4 RGB image): the two spatial axes are the equal pair.
        channels_first = shape[2] == shape[3]
        channels_last = shape[1] == shape[2]
    if channels_first == channels_last:
        raise ImggenError(
            f"output '{output.name}' {_fmt(shape)}: cannot tell where its channels are; pass "
            "--layout nchw or --layout nhwc"
        )
    layout = "nchw" if channels_first else "nhwc"
    evidence.append(f"layout {layout}: the output is {_fmt(shape)} on the probe")
    return layout


def _output_range(
    images: np.ndarray, options: ImportOptions, evidence: list[str]
) -> tuple[float, float, dict[str, float]]:
    finite = images[np.isfinite(images)]
    if finite.size == 0:
        raise ImggenError("the probe's output is all NaN/Inf: the model does not run correctly")
    lo, hi = float(finite.min()), float(finite.max())
    probe = {"min": lo, "max": hi, "mean": float(finite.mean())}
    seen = f"the probe's outputs span {lo:.3g}..{hi:.3g} on {PROBE_SEEDS} seeds"
    if options.output_range != "auto":
        low, high = parse_range(options.output_range)
        slack = 0.25 * (high - low)  # unclamped generators (StyleGAN) overshoot a little
        outside = lo < low - slack or hi > high + slack
        # A signed range with no negative value in 8 images, or a 0..255 one that never
        # passes 2: the probe says [0, 1] (or [-1, 1]) as plainly as a value outside would.
        unused = (low < 0 <= lo) or (high > 2.0 >= hi)
        if outside or unused:
            raise ImggenError(
                f"--output-range {options.output_range} is refuted: {seen}; pass the range that "
                "covers them, or auto"
            )
        evidence.append(f"range [{low:g}, {high:g}] (--output-range; {seen})")
        return low, high, probe
    if hi - lo < 0.05:
        raise ImggenError(
            f"{seen}: too narrow to tell the range (an untrained model?); pass --output-range"
        )
    if hi > 2.0:
        low, high = 0.0, 255.0
    elif lo < -1e-3:  # a sigmoid or a clamp never goes below 0: any negative means signed
        low, high = -1.0, 1.0
    else:
        low, high = 0.0, 1.0
    evidence.append(f"range [{low:g}, {high:g}]: {seen}")
    return low, high, probe


def parse_range(text: str) -> tuple[float, float]:
    if text in RANGES:
        return RANGES[text]
    try:
        low_text, high_text = text.split(":")
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise ImggenError(
            f"--output-range must be auto, -1:1, 0:1, 0:255 or LOW:HIGH, got {text!r}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ImggenError(f"--output-range {text}: LOW must be below HIGH, both finite")
    return low, high


def _fmt(shape: Sequence[Any]) -> str:
    return "(" + ", ".join("?" if not isinstance(d, int) else str(d) for d in shape) + ")"


def describe(inferred: Inferred) -> list[str]:
    """The contract as lines a person reads: each input's role, the output, and why."""
    card = inferred.card
    lines = []
    for spec in card.input_specs:
        if spec.role == "latent":
            what = f"latent {_fmt(spec.shape)}, standard normal per seed"
        elif spec.role == "class":
            what = f"class {spec.encoding}, {card.num_classes} classes"
        elif spec.role == "noise":
            what = f"noise {_fmt(spec.shape)}, {spec.mode}"
        else:
            what = f"knob {_fmt(spec.shape)}, default {spec.default:g}"
        lines.append(f"input  {spec.name}: {what}")
    out = card.output
    lines.append(
        f"output {out.name}: {out.layout}, {out.channel_order}, {card.channels} channel(s), "
        f"{card.height}x{card.width}, range {list(card.output_range)}"
    )
    lines += [f"  why: {line}" for line in inferred.evidence]
    return lines
