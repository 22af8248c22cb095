"""Experiment: stride-2 ConvTranspose (k4, p1) rewritten as convolutions + DepthToSpace.

Each output phase (a, b) of a stride-2 transposed convolution is an ordinary convolution of
the input with a 2x2 slice of the kernel: rows 3,1 for a=0 (input offsets -1, 0) and 2,0 for
a=1 (offsets 0, +1), the same for columns. Two rewrites are tried, both exact in real
arithmetic:

- "phases": four 2x2 convolutions (asymmetric pads) -> Concat -> DepthToSpace, the same FLOPs;
- "conv3x3": one 3x3 convolution producing all four phases (zero taps: 2.25x the FLOPs, but
  one large GEMM) -> DepthToSpace.

The runtime keeps a rewrite only if it is measured faster and equal within 1e-5; this script
prints the measurement (medians, interleaved) for ONNX Runtime (tuned) and OpenVINO.

    python benchmarks/try_convtranspose_rewrite.py MODEL.onnx [MODEL.onnx ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

TAPS = {0: (3, 1), 1: (2, 0)}  # phase -> kernel rows (or columns) for input offsets in order
PADS = {0: (1, 0), 1: (0, 1)}  # phase -> (pad before, pad after)


def _is_target(node: onnx.NodeProto, inits: dict[str, np.ndarray]) -> bool:
    if node.op_type != "ConvTranspose" or node.input[1] not in inits:
        return False
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return (
        list(attrs.get("strides", [])) == [2, 2]
        and list(attrs.get("kernel_shape", [])) == [4, 4]
        and list(attrs.get("pads", [])) == [1, 1, 1, 1]
        and attrs.get("group", 1) == 1
        and list(attrs.get("output_padding", [0, 0])) == [0, 0]
        and list(attrs.get("dilations", [1, 1])) == [1, 1]
    )


def rewrite(model: onnx.ModelProto, mode: str) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        if not _is_target(node, inits):
            nodes.append(node)
            continue
        w = inits[node.input[1]]  # (Cin, Cout, 4, 4)
        cout = w.shape[1]
        bias = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        x, y, base = node.input[0], node.output[0], node.output[0] + "_rw"
        if mode == "phases":
            phase_outputs = []
            for a in (0, 1):
                for b in (0, 1):
                    k = w[:, :, list(TAPS[a]), :][:, :, :, list(TAPS[b])]  # (Cin, Cout, 2, 2)
                    kw = np.ascontiguousarray(k.transpose(1, 0, 2, 3))  # (Cout, Cin, 2, 2)
                    name = f"{base}_w{a}{b}"
                    graph.initializer.append(numpy_helper.from_array(kw, name))
                    ins = [x, name]
                    if bias is not None:
                        ins.append(node.input[2])
                    o = f"{base}_p{a}{b}"
                    pads = [PADS[a][0], PADS[b][0], PADS[a][1], PADS[b][1]]
                    nodes.append(helper.make_node("Conv", ins, [o], kernel_shape=[2, 2], pads=pads))
                    phase_outputs.append(o)
            nodes.append(helper.make_node("Concat", phase_outputs, [base + "_cat"], axis=1))
            nodes.append(
                helper.make_node("DepthToSpace", [base + "_cat"], [y], blocksize=2, mode="DCR")
            )
        else:
            k3 = np.zeros((4 * cout, w.shape[0], 3, 3), np.float32)
            for a in (0, 1):
                for b in (0, 1):
                    phase = (a * 2 + b) * cout
                    for ty, ky in enumerate(TAPS[a]):
                        for tx, kx in enumerate(TAPS[b]):
                            k3[phase : phase + cout, :, ty + a, tx + b] = w[:, :, ky, kx].T
            name = f"{base}_w3"
            graph.initializer.append(numpy_helper.from_array(k3, name))
            ins = [x, name]
            if bias is not None:
                bname = f"{base}_b3"
                graph.initializer.append(numpy_helper.from_array(np.tile(bias, 4), bname))
                ins.append(bname)
            nodes.append(
                helper.make_node("Conv", ins, [base + "_c"], kernel_shape=[3, 3], pads=[1] * 4)
            )
            nodes.append(
                helper.make_node("DepthToSpace", [base + "_c"], [y], blocksize=2, mode="DCR")
            )
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in nodes for i in n.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return out


def main(paths: list[str]) -> None:
    from imggen_rt.backends.openvino import OpenVinoBackend
    from imggen_rt.backends.ort import OrtCpuBackend

    tmp = Path(tempfile.mkdtemp(prefix="ct_rewrite_"))
    for path in paths:
        base = onnx.load(path)
        variants = {"original": Path(path)}
        for mode in ("phases", "conv3x3"):
            p = tmp / f"{Path(path).stem}.{mode}.onnx"
            onnx.save(rewrite(base, mode), str(p))
            variants[mode] = p
        for batch in (1, 16):
            z = np.random.default_rng(0).standard_normal((batch, 128)).astype(np.float32)
            runners = {}
            for vname, vpath in variants.items():
                runners[f"ort {vname}"] = OrtCpuBackend(vpath)
                runners[f"openvino {vname}"] = OpenVinoBackend(vpath)
            ref = {k: np.array(r.infer(z)) for k, r in runners.items()}
            times: dict[str, list[float]] = {k: [] for k in runners}
            reps = 40 if batch == 1 else 8
            for _ in range(reps):
                for k, r in runners.items():
                    t0 = time.perf_counter()
                    r.infer(z)
                    times[k].append((time.perf_counter() - t0) * 1e3)
            print(f"{Path(path).name} batch {batch}")
            for k in runners:
                engine, vname = k.split(" ")
                diff = float(np.abs(ref[k] - ref[f"{engine} original"]).max())
                orig = np.median(times[f"{engine} original"])
                print(
                    f"  {k:22s} median {np.median(times[k]):8.2f} ms  "
                    f"speed-up {orig / np.median(times[k]):.2f}x  max diff {diff:.1e}"
                )


if __name__ == "__main__":
    main(sys.argv[1:])
