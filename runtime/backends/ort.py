"""ONNX Runtime: one session, inputs and output bound once per batch size to reused buffers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..card import ModelCard, TensorInfo
from ..contract import Feeds, graph_inputs
from ..errors import ImggenError, first_line
from ..system import physical_cores
from .base import Backend

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
}


class OrtBackend(Backend):
    """An ONNX Runtime session with its inputs and output bound to host buffers owned here.

    The CPU and GPU variants differ only in how the session is made (`open_session` below and
    in ort_gpu.py); everything after that is shared.
    """

    name = "ort"

    def __init__(self, session: Any, source: str) -> None:
        self.session = session
        meta = session.get_modelmeta().custom_metadata_map
        self.card = ModelCard.from_metadata(meta, source)
        self.card.validate_graph(
            [_info(a) for a in session.get_inputs()],
            [_info(a) for a in session.get_outputs()],
            source,
        )
        out = self.card.output_of([_info(a) for a in session.get_outputs()], source)
        self._output_name = out.name
        self._output_dtype = np.dtype(out.dtype)
        self._binding = session.io_binding()
        # Inputs and output live in buffers owned here and bound once per batch size: each
        # call then only copies the inputs in and runs. Re-binding on every call cost as much
        # as the whole inference of the 32x32 default model (measured with `imggen-rt bench`).
        self._bound_batch = 0
        self._capacity = 0
        self._inputs: dict[str, np.ndarray] = {}
        self._out = np.empty((0, *self.card.output_item_shape), dtype=self._output_dtype)

    def _bind(self, batch: int) -> None:
        specs = self.card.input_specs
        if self._capacity < batch:  # grow to the largest batch seen; views serve smaller ones
            self._inputs = {
                s.name: np.empty(() if s.shape == () else (batch, *s.item_shape), s.dtype)
                for s in specs
            }
            self._out = np.empty((batch, *self._out.shape[1:]), dtype=self._output_dtype)
            self._capacity = batch
        binding = self._binding
        binding.clear_binding_inputs()
        binding.clear_binding_outputs()
        for spec in specs:
            buffer = self._inputs[spec.name]
            view = buffer if spec.shape == () else buffer[:batch]
            binding.bind_input(spec.name, "cpu", 0, view.dtype, list(view.shape), view.ctypes.data)
        out = self._out[:batch]
        binding.bind_output(
            self._output_name, "cpu", 0, out.dtype, list(out.shape), out.ctypes.data
        )
        self._bound_batch = batch

    def infer(self, feeds: Feeds) -> np.ndarray:
        batch = len(feeds)
        values = graph_inputs(self.card.input_specs, self.card.num_classes, feeds)
        if batch != self._bound_batch:
            self._bind(batch)
        for name, value in values.items():
            buffer = self._inputs[name]
            np.copyto(buffer if value.ndim == 0 else buffer[:batch], value, casting="same_kind")
        self.session.run_with_iobinding(self._binding)
        return self._out[:batch]

    def close(self) -> None:
        self._binding.clear_binding_inputs()
        self._binding.clear_binding_outputs()


class OrtCpuBackend(OrtBackend):
    """ONNX Runtime on the CPU, tuned: physical-core threads, sequential execution."""

    name = "ort"

    def __init__(self, model: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.threads = threads or physical_cores()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        session = open_session(model, options, ["CPUExecutionProvider"], "ONNX Runtime")
        super().__init__(session, Path(model).name)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "provider": "CPUExecutionProvider",
            "threads": self.threads,
            "output_dtype": self._output_dtype.name,
        }


def open_session(model: str | Path, options: Any, providers: list[Any], engine: str) -> Any:
    """An InferenceSession, or ImggenError with ONNX Runtime's first line of complaint."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(str(model), options, providers=providers)
    except Exception as e:
        raise ImggenError(f"{engine} cannot load {model}: {first_line(e)}") from None


def _info(arg: Any) -> TensorInfo:
    shape = tuple(d if isinstance(d, int) else (d or None) for d in arg.shape)
    return TensorInfo(arg.name, shape, _ORT_TYPES.get(arg.type, arg.type))
