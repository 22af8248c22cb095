"""OpenVINO on the CPU: the latency hint, one compiled model per batch size, reused buffers.

OpenVINO compiles a dynamic-batch model into kernels that re-plan their memory on every
shape change; a model reshaped to a static batch lets the CPU plugin pick blocked layouts and
fuse once. Generators run at a handful of batch sizes, so one static compilation per batch
seen (a few hundred ms the first time) pays for itself within a few calls.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from ..card import ModelCard
from ..contract import Feeds, graph_inputs
from ..errors import ImggenError, first_line
from ..system import physical_cores
from .base import Backend

INSTALL = "pip install 'imggen-rt[openvino]' (or: pip install openvino)"
# On CPUs with AMX (Xeon Sapphire Rapids and later) OpenVINO's default inference precision is
# bfloat16: measured 7e-3 max error on a tanh output, far from the FP32 ONNX. Lower precision
# must earn its place through the parity gate like every other artifact, so FP32 is asked for.
FP32 = {"INFERENCE_PRECISION_HINT": "f32"}


def import_openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise ImggenError(f"OpenVINO is not installed: {INSTALL}") from None
    return openvino


PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}


class OpenVinoBackend(Backend):
    """OpenVINO on the CPU, from the generator ONNX (FP32) or from an engine `imggen-rt build
    --target openvino` made and gated (`engine`: the IR of a bf16 or INT8 model, `card` from
    its manifest).

    bf16 runs the whole graph in bf16: the CPU plugin keeps a graph's tail in FP32 back to the
    last Convolution/MatMul, and a generator of ConvTranspose layers is all tail, so the
    output is made bf16 with the pre/post-processing API (`bf16_output`) and the tail runs in
    bf16 kernels too (measured on g256 at batch 16: 1.9x FP32 on an AVX512-BF16 CPU; the
    ConvTranspose -> Conv + DepthToSpace rewrite, the other way round the rule, was slower in
    FP32 already: benchmarks/try_convtranspose_rewrite.py). The bf16 output stays bf16: OpenVINO
    writes it into a buffer returned as an ml_dtypes.bfloat16 array, which the extension reads
    as it denormalises (nothing widens it to FP32 in between).
    """

    name = "openvino"

    def __init__(
        self,
        model: str | Path,
        threads: int | None = None,
        *,
        precision: str = "fp32",
        engine: Path | None = None,
        card: ModelCard | None = None,
    ) -> None:
        from ..onnx_graph import graph_io, load_model, read_card

        if precision not in PRECISION_HINTS:
            raise ImggenError(f"OpenVINO precision must be fp32, bf16 or int8, not {precision!r}")
        ov = import_openvino()
        self._ov = ov
        self._core = ov.Core()
        self.precision = precision
        path = Path(model)
        if engine is None:
            onnx_model = load_model(path)
            self.card = read_card(onnx_model, path.name)
            _, outputs = graph_io(onnx_model)
            self._output_name = self.card.output_of(outputs, path.name).name
            del onnx_model
            try:
                self._model = self._core.read_model(str(path))
            except Exception as e:
                raise ImggenError(f"OpenVINO cannot read {path}: {first_line(e)}") from None
            if precision == "bf16":
                self._model = bf16_output(ov, self._model, self._output_name)
            elif precision == "int8":
                raise ImggenError("an INT8 OpenVINO model comes from `imggen-rt build`")
        else:
            if card is None:
                raise ImggenError("an OpenVINO engine needs the card from its manifest")
            self.card = card
            self._model = read_ir(self._core, engine)
            self._output_name = card.output.name or self._model.outputs[0].get_any_name()
        self.source = str(engine or path)
        # The name says the precision: a Ray worker or a resumed render asking for this
        # backend by name gets the same engine.
        self.name = (
            "openvino" if precision == "fp32" and engine is None else f"openvino-{precision}"
        )
        self.threads = threads
        # LATENCY: one stream using every core for one request, which is how a generator is
        # driven (one batch at a time); THROUGHPUT would split the cores into streams.
        hint = {"INFERENCE_PRECISION_HINT": PRECISION_HINTS[precision]}
        self._config: dict[str, str] = {"PERFORMANCE_HINT": "LATENCY", **hint}
        if threads:
            self._config["INFERENCE_NUM_THREADS"] = str(threads)
        out_type = self._model.output(self._output_name).get_element_type()
        self._bf16_out = out_type == ov.Type.bf16
        # bf16 is held as its bits (numpy has no bfloat16 of its own) and viewed as
        # ml_dtypes.bfloat16 on the way out.
        self._output_dtype = np.dtype(np.uint16 if self._bf16_out else out_type.to_dtype())
        self._requests: dict[int, Any] = {}
        self._buffer = np.empty(0, dtype=self._output_dtype)
        self._threads_used = 0

    def _request(self, batch: int) -> Any:
        request = self._requests.get(batch)
        if request is not None:
            return request
        model = self._model.clone()
        shapes = {}
        for port in model.inputs:
            if port.partial_shape.rank.get_length() == 0:
                continue  # a 0-d knob has no batch axis
            dims = [d if d.is_static else self._ov.Dimension(batch) for d in port.partial_shape]
            dims[0] = self._ov.Dimension(batch)
            shapes[port] = self._ov.PartialShape(dims)
        try:
            model.reshape(shapes)
            compiled = self._core.compile_model(model, "CPU", self._config)
        except Exception as e:
            raise ImggenError(f"OpenVINO cannot compile the model: {first_line(e)}") from None
        self._threads_used = int(compiled.get_property("INFERENCE_NUM_THREADS"))
        request = compiled.create_infer_request()
        self._requests[batch] = request
        if len(self._buffer) < batch:
            item = self.card.output_item_shape
            self._buffer = np.empty((batch, *item), dtype=self._output_dtype)
            bind = self._requests  # every request must move to the new, larger buffer
        else:
            bind = {batch: request}
        # Each request writes straight into a view of one buffer sized for the largest batch:
        # no copy out of OpenVINO's memory, and no buffer per batch size.
        for size, req in bind.items():
            view = self._buffer[:size]
            if self._bf16_out:
                tensor = self._ov.Tensor(view, view.shape, self._ov.Type.bf16)
            else:
                tensor = self._ov.Tensor(view, shared_memory=True)
            req.set_tensor(self._output_name, tensor)
        return request

    def infer(self, feeds: Feeds) -> np.ndarray:
        batch = len(feeds)
        values = graph_inputs(self.card.input_specs, self.card.num_classes, feeds)
        request = self._request(batch)
        for name, array in values.items():
            request.set_tensor(name, self._ov.Tensor(array, shared_memory=True))
        request.infer()
        if self._bf16_out:
            return self._buffer[:batch].view(ml_dtypes.bfloat16)
        return self._buffer[:batch]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "engine": f"openvino {self._ov.__version__}",
            "device": "CPU",
            "performance_hint": "LATENCY",
            "inference_precision": PRECISION_HINTS[self.precision],
            "precision": self.precision,
            "model": self.source,
            # what the latency hint chose (physical cores) once a batch size was compiled
            "threads": self.threads or self._threads_used or physical_cores(),
            "static_batches_compiled": sorted(self._requests),
            "output_dtype": "bfloat16" if self._bf16_out else self._output_dtype.name,
        }

    def close(self) -> None:
        self._requests.clear()


def bf16_output(ov: Any, model: Any, output: str | None = None) -> Any:
    """The model with its image output made bf16 (pre/post-processing API): the CPU plugin
    then runs the whole graph in bf16, the ConvTranspose tail included."""
    from openvino.preprocess import PrePostProcessor

    ppp = PrePostProcessor(model)
    ppp.output(output if output is not None else 0).tensor().set_element_type(ov.Type.bf16)
    return ppp.build()


def save_ir(ov: Any, model: Any, path: Path) -> None:
    """An OpenVINO model as one file: a tar of its IR (model.xml + model.bin, weights kept in
    their own precision), so the engine cache holds one artifact per entry."""
    with tempfile.TemporaryDirectory() as folder:
        xml = Path(folder) / "model.xml"
        ov.save_model(model, str(xml), compress_to_fp16=False)
        with tarfile.open(path, "w") as tar:
            tar.add(xml, arcname="model.xml")
            tar.add(xml.with_suffix(".bin"), arcname="model.bin")


def read_ir(core: Any, path: Path) -> Any:
    """The model `save_ir` wrote, read from memory."""
    ov = import_openvino()
    try:
        with tarfile.open(path, "r") as tar:
            parts = {m.name: tar.extractfile(m) for m in tar.getmembers() if m.isfile()}
            xml = parts["model.xml"].read()  # type: ignore[union-attr]
            weights = parts["model.bin"].read()  # type: ignore[union-attr]
        return core.read_model(xml.decode(), ov.Tensor(np.frombuffer(weights, np.uint8)))
    except (OSError, KeyError, tarfile.TarError, RuntimeError) as e:
        raise ImggenError(
            f"{path} is not an OpenVINO engine of imggen-rt: {first_line(e)}"
        ) from None
