"""ONNX Runtime on the CPU, tuned: one session, physical-core threads, reused output buffers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..card import CLASS_INPUT, LATENT_INPUT, ModelCard, TensorInfo
from ..errors import ImggenError
from ..system import physical_cores

_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64"}


class OrtCpuBackend:
    name = "ort"

    def __init__(self, model: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.threads = threads or physical_cores()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # Spinning threads burn the other core between batches that the post-process needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ImggenError(f"ONNX Runtime cannot load {model}: {first}") from None
        source = Path(model).name
        meta = self.session.get_modelmeta().custom_metadata_map
        self.card = ModelCard.from_metadata(meta, source)
        self.card.validate_graph(
            [_info(a) for a in self.session.get_inputs()],
            [_info(a) for a in self.session.get_outputs()],
            source,
        )
        out = self.session.get_outputs()[0]
        self._output_name = out.name
        self._output_dtype = np.dtype(_ORT_TYPES[out.type])
        self._binding = self.session.io_binding()
        self._buffer = np.empty(0, dtype=self._output_dtype)

    def _output_buffer(self, batch: int) -> np.ndarray:
        """A view of one buffer sized for the largest batch seen: no allocation per call."""
        c, h, w = self.card.channels, self.card.height, self.card.width
        if self._buffer.shape[:1] < (batch,):
            self._buffer = np.empty((batch, c, h, w), dtype=self._output_dtype)
        return self._buffer[:batch]

    def infer(self, z: np.ndarray, class_id: np.ndarray | None = None) -> np.ndarray:
        batch = len(z)
        out = self._output_buffer(batch)
        binding = self._binding
        binding.clear_binding_inputs()
        binding.clear_binding_outputs()
        binding.bind_cpu_input(LATENT_INPUT, np.ascontiguousarray(z, dtype=np.float32))
        if self.card.conditional:
            if class_id is None:
                raise ImggenError("this model is class-conditional: class ids are required")
            binding.bind_cpu_input(CLASS_INPUT, np.ascontiguousarray(class_id, dtype=np.int64))
        binding.bind_output(
            self._output_name, "cpu", 0, out.dtype, list(out.shape), out.ctypes.data
        )
        self.session.run_with_iobinding(binding)
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "provider": "CPUExecutionProvider",
            "threads": self.threads,
            "output_dtype": self._output_dtype.name,
        }

    def close(self) -> None:
        self._binding.clear_binding_inputs()
        self._binding.clear_binding_outputs()


def _info(arg: Any) -> TensorInfo:
    shape = tuple(d if isinstance(d, int) else (d or None) for d in arg.shape)
    return TensorInfo(arg.name, shape, _ORT_TYPES.get(arg.type, arg.type))
