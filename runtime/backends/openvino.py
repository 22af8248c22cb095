"""OpenVINO on the CPU: the latency hint, one compiled model per batch size, reused buffers.

OpenVINO compiles a dynamic-batch model into kernels that re-plan their memory on every
shape change; a model reshaped to a static batch lets the CPU plugin pick blocked layouts and
fuse once. Generators run at a handful of batch sizes, so one static compilation per batch
seen (a few hundred ms the first time) pays for itself within a few calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

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


class OpenVinoBackend(Backend):
    name = "openvino"

    def __init__(self, model: str | Path, threads: int | None = None) -> None:
        from ..onnx_graph import graph_io, load_model, read_card

        ov = import_openvino()
        path = Path(model)
        onnx_model = load_model(path)
        self.card = read_card(onnx_model, path.name)
        _, outputs = graph_io(onnx_model)
        output = self.card.output_of(outputs, path.name)
        self._output_dtype = np.dtype(output.dtype)
        self._output_name = output.name
        del onnx_model
        self.threads = threads
        # LATENCY: one stream using every core for one request, which is how a generator is
        # driven (one batch at a time); THROUGHPUT would split the cores into streams.
        self._config: dict[str, str] = {"PERFORMANCE_HINT": "LATENCY", **FP32}
        if threads:
            self._config["INFERENCE_NUM_THREADS"] = str(threads)
        self._ov = ov
        self._core = ov.Core()
        try:
            self._model = self._core.read_model(str(path))
        except Exception as e:
            raise ImggenError(f"OpenVINO cannot read {path}: {first_line(e)}") from None
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
            item = self.card.output_shape[1:]
            self._buffer = np.empty((batch, *item), dtype=self._output_dtype)
            bind = self._requests  # every request must move to the new, larger buffer
        else:
            bind = {batch: request}
        # Each request writes straight into a view of one buffer sized for the largest batch:
        # no copy out of OpenVINO's memory, and no buffer per batch size.
        for size, req in bind.items():
            tensor = self._ov.Tensor(self._buffer[:size], shared_memory=True)
            req.set_tensor(self._output_name, tensor)
        return request

    def infer(self, feeds: Feeds) -> np.ndarray:
        batch = len(feeds)
        values = graph_inputs(self.card.input_specs, self.card.num_classes, feeds)
        request = self._request(batch)
        for name, array in values.items():
            request.set_tensor(name, self._ov.Tensor(array, shared_memory=True))
        request.infer()
        return self._buffer[:batch]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "engine": f"openvino {self._ov.__version__}",
            "device": "CPU",
            "performance_hint": "LATENCY",
            "inference_precision": "f32",
            # what the latency hint chose (physical cores) once a batch size was compiled
            "threads": self.threads or self._threads_used or physical_cores(),
            "static_batches_compiled": sorted(self._requests),
            "output_dtype": self._output_dtype.name,
        }

    def close(self) -> None:
        self._requests.clear()
