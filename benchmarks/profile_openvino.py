"""Where the CPU time of a generator goes, layer by layer, in OpenVINO (the `auto` CPU backend).

Runs the model with OpenVINO's performance counters at one batch size and prints, per layer
type and per layer, the time and the achieved GFLOP/s (FLOPs from the ONNX graph), beside the
float32 matmul rate measured in the same run. This is the profile behind the gaps in
benchmarks/results/suite.md.

    python benchmarks/profile_openvino.py MODEL.onnx [--batch 16] [--reps 20]
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path

import numpy as np
import onnx
import openvino as ov

from imggen_rt.card import CLASS_INPUT, LATENT_INPUT
from imggen_rt.flops import count_flops, flops_by_node
from imggen_rt.latents import latents_for_seeds
from imggen_rt.onnx_graph import read_card


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    best = min(_timed(lambda: a @ a) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument(
        "--torch-checkpoint", type=Path, help="also profile torch eager on these weights"
    )
    args = parser.parse_args()

    proto = onnx.load(str(args.model))
    card = read_card(proto, args.model.name)
    flops_per_image = sum(count_flops(proto).values())
    node_flops = flops_by_node(proto)
    core = ov.Core()
    model = core.read_model(str(args.model))
    shapes = {LATENT_INPUT: [args.batch, card.latent_dim]}
    if card.conditional:
        shapes[CLASS_INPUT] = [args.batch]
    model.reshape(shapes)
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32", "PERF_COUNT": True}
    request = core.compile_model(model, "CPU", config).create_infer_request()
    feeds = {LATENT_INPUT: latents_for_seeds(list(range(args.batch)), card.latent_dim)}
    if card.conditional:
        feeds[CLASS_INPUT] = np.arange(args.batch, dtype=np.int64) % card.num_classes
    for _ in range(3):
        request.infer(feeds)
    by_layer: collections.Counter[str] = collections.Counter()
    layer_type: dict[str, str] = {}
    walls = []
    for _ in range(args.reps):
        walls.append(_timed(lambda: request.infer(feeds)))
        for info in request.profiling_info:
            by_layer[info.node_name] += info.real_time.total_seconds()
            layer_type[info.node_name] = info.node_type
    peak = matmul_gflops()
    wall = float(np.median(walls))
    total_flops = flops_per_image * args.batch
    print(
        f"{args.model.name} batch {args.batch}: {wall * 1e3:.2f} ms median, "
        f"{total_flops / wall / 1e9:.0f} GFLOP/s = {total_flops / wall / 1e9 / peak:.0%} of "
        f"the {peak:.0f} GFLOP/s matmul measured now"
    )
    by_type: collections.Counter[str] = collections.Counter()
    for name, seconds in by_layer.items():
        by_type[layer_type[name]] += seconds / args.reps
    counted = sum(by_type.values())
    print("\ntime by layer type (OpenVINO's counters):")
    for kind, seconds in by_type.most_common(8):
        print(f"  {kind:28s} {seconds * 1e3:8.2f} ms  {seconds / counted:6.1%}")
    print("\nslowest layers (GFLOP/s where the ONNX node of that name has a FLOP count):")
    for name, seconds in by_layer.most_common(8):
        ms = seconds / args.reps * 1e3
        rate = ""
        if node_flops.get(name):
            gflops = node_flops[name] * args.batch / (ms / 1e3) / 1e9
            rate = f"{gflops:6.0f} GFLOP/s ({gflops / peak:.0%})"
        print(f"  {name[:40]:40s} {layer_type[name]:24s} {ms:8.2f} ms  {rate}")
    if args.torch_checkpoint:
        profile_torch(args.torch_checkpoint, feeds, args.batch, args.reps)


def profile_torch(checkpoint: Path, feeds: dict[str, np.ndarray], batch: int, reps: int) -> None:
    """torch eager's own profile of the same batch: where the peer spends its time."""
    import torch
    from torch.profiler import profile

    from imggen_rt.export.checkpoint import generator_from_checkpoint

    generator, _ = generator_from_checkpoint(checkpoint)
    z = torch.from_numpy(feeds[LATENT_INPUT])
    c = torch.from_numpy(feeds[CLASS_INPUT]) if CLASS_INPUT in feeds else None
    with torch.no_grad():
        for _ in range(3):
            generator(z, c)
        with profile() as prof:
            for _ in range(reps):
                generator(z, c)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"\ntorch eager, batch {batch}: {total / reps / 1e3:.2f} ms of op time per call")
    for e in events[:6]:
        share = e.self_cpu_time_total / total
        print(f"  {e.key[:40]:40s} {e.self_cpu_time_total / reps / 1e3:8.2f} ms  {share:6.1%}")


if __name__ == "__main__":
    main()
