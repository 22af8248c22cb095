"""`imggen-rt triton-repo MODEL -o repo/`: a validated Triton model repository."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "triton-repo",
        help="write a Triton Inference Server model repository for a generator ONNX",
        description="Write REPO/NAME/config.pbtxt (dynamic batching, the model card in its "
        "parameters) and REPO/NAME/1/model.onnx; the config is validated with Triton's own "
        "ModelConfig protobuf (needs tritonclient[grpc]).",
    )
    p.add_argument("model", type=Path, nargs="?", help="generator ONNX (default: bundled)")
    p.add_argument("-o", "--out", type=Path, required=True, help="repository folder")
    p.add_argument("--name", help="model name in the repository (default: file stem)")
    p.add_argument("--max-batch", type=int, default=64)
    p.add_argument("--gpu", action="store_true", help="instance_group KIND_GPU (default CPU)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..bundled import resolve_model
    from ..serve.triton import write_repository

    folder = write_repository(
        resolve_model(args.model), args.out, args.name, args.max_batch, args.gpu
    )
    print(f"wrote {folder}/config.pbtxt and {folder}/1/model.onnx (config validated)")
    return 0
