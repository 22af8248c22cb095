"""TensorRT engines on an NVIDIA GPU, driven by cuda-python (no torch).

Follows NVIDIA's `samples/python/common_runtime.py` and the diffusion demo's graph capture:
every buffer is allocated once for the largest batch of the engine's profile, host buffers are
pinned so copies are truly asynchronous, all work goes to one non-default stream, and each
batch size gets its own CUDA graph, captured after a warm-up run. The float output never
leaves the device on the frames path: the extension's CUDA kernel writes uint8 frames there
and only those are copied back.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..card import ModelCard
from ..contract import Feeds, graph_inputs
from ..errors import ImggenError
from .base import ColourProgram, DeviceFramesBackend
from .platform import (
    cuda_call,
    error_text,
    import_cudart,
    import_tensorrt,
    require_cuda_device,
)

log = logging.getLogger(__name__)

_ORDERS = ("rgb", "bgr", "gray")
_SLOTS = 2  # host buffers per role: the host fills one while the GPU works from the other


class DeviceArray:
    """A raw device allocation seen as an array through `__cuda_array_interface__` (v3), the
    form the post-process extension reads device memory in."""

    def __init__(self, ptr: int, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self.ptr = ptr
        self.shape = shape
        self.dtype = dtype

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self.ptr, False),
            "strides": None,  # C-contiguous
            "version": 3,
        }


class _PinnedBuffer:
    """Page-locked host memory as a numpy array (as NVIDIA's HostDeviceMem does)."""

    def __init__(self, cudart: Any, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        nbytes = max(1, int(np.prod(shape)) * dtype.itemsize)
        self.ptr = int(cuda_call(cudart.cudaMallocHost(nbytes)))
        raw = ctypes.cast(self.ptr, ctypes.POINTER(ctypes.c_uint8))
        self.array: NDArray[Any] = (
            np.ctypeslib.as_array(raw, (nbytes,))[: int(np.prod(shape)) * dtype.itemsize]
            .view(dtype)
            .reshape(shape)
        )


class TrtBackend(DeviceFramesBackend):
    """One engine, one execution context, one stream: not for use from several threads."""

    name = "trt"
    max_batch: int = 0  # the engine profile's largest batch, set when it loads

    def __init__(
        self,
        plan: bytes,
        card: ModelCard,
        source: str = "engine",
        *,
        dla_core: int | None = None,
        cuda_graphs: bool = True,
        device: int = 0,
    ) -> None:
        self._closed = True  # close() must work on a half-built backend
        self._device_ptrs: list[int] = []
        self._pinned: list[_PinnedBuffer] = []
        self._graphs: dict[int, Any] = {}
        self._events: list[Any] = []
        self._stream: Any = None
        self._context: Any = None
        self._engine: Any = None
        self.card = card
        self.source = source
        self.cuda_graphs = cuda_graphs
        self.graph_failures: dict[int, str] = {}
        trt = import_tensorrt()
        self._cudart = import_cudart()
        require_cuda_device(device)
        cuda_call(self._cudart.cudaSetDevice(device))
        self._trt_version = str(trt.__version__)
        self._closed = False
        try:
            self._open(trt, plan, dla_core)
        except BaseException:
            self.close()  # free what was allocated before the failure
            raise

    def _open(self, trt: Any, plan: bytes, dla_core: int | None) -> None:
        cudart, card, source = self._cudart, self.card, self.source
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        if dla_core is not None:
            self._runtime.DLA_core = dla_core
        self._engine = self._runtime.deserialize_cuda_engine(plan)
        if self._engine is None:
            raise ImggenError(
                f"TensorRT {self._trt_version} cannot load {source}: built by another TensorRT "
                "version, for another GPU, or damaged; rebuild it with `imggen-rt build`"
            )
        engine = self._engine
        self._output_name, self._dtypes = _check_io(trt, engine, card, source)
        latent = card.inputs_with_role("latent")[0].name
        lows, _, highs = engine.get_tensor_profile_shape(latent, 0)
        self.min_batch, self.max_batch = int(lows[0]), int(highs[0])

        # TensorRT allocates the context's scratch memory once, for the largest profile shape
        # (the default STATIC strategy), so its address never changes under a captured graph.
        self._context = engine.create_execution_context()
        if self._context is None:
            raise ImggenError(f"TensorRT could not create an execution context for {source}")
        self.device_bytes = int(engine.device_memory_size_v2)

        self._stream = cuda_call(cudart.cudaStreamCreateWithFlags(cudart.cudaStreamNonBlocking))
        self._stream_handle = int(self._stream)
        h, w = card.height, card.width
        # Per image, by tensor name; a 0-d knob (shape ()) has no batch axis at all.
        self._item_shapes: dict[str, tuple[int, ...]] = {
            spec.name: spec.item_shape for spec in card.input_specs
        }
        self._unbatched = {spec.name for spec in card.input_specs if spec.shape == ()}
        out_item = card.output_item_shape
        self._item_shapes[self._output_name] = out_item
        # Addresses are set once: buffers never move, so captured graphs stay valid.
        self._device: dict[str, int] = {}
        for name, shape in self._item_shapes.items():
            rows = 1 if name in self._unbatched else self.max_batch
            nbytes = rows * int(np.prod(shape)) * self._dtypes[name].itemsize
            self._device[name] = self._malloc(nbytes)
            if not self._context.set_tensor_address(name, self._device[name]):
                raise ImggenError(f"TensorRT refused the buffer address of '{name}'")
        frame_bytes = self.max_batch * h * w * 3
        self._device_frames = self._malloc(frame_bytes)
        shapes = {n: self._batch_shape(n, self.max_batch) for n in self._inputs}
        self._host_in = [
            {n: self._pin(shape, self._dtypes[n]) for n, shape in shapes.items()}
            for _ in range(_SLOTS)
        ]
        self._host_out = self._pin((self.max_batch, *out_item), self._dtypes[self._output_name])
        self._host_frames = [self._pin((frame_bytes,), np.dtype(np.uint8)) for _ in range(_SLOTS)]
        flags = cudart.cudaEventDisableTiming
        self._events = [cuda_call(cudart.cudaEventCreateWithFlags(flags)) for _ in range(_SLOTS)]
        self._pending: list[tuple[int, tuple[int, ...]] | None] = [None] * _SLOTS
        self._next_slot = 0
        self._shape_batch = 0
        # LUT tables uploaded once per table object (kept alive here with their device copy).
        self._device_luts: dict[int, tuple[NDArray[np.float32], DeviceArray]] = {}

    # -- the Backend protocol ---------------------------------------------------------------
    def infer(self, feeds: Feeds) -> np.ndarray:
        """The float output (as the graph lays it out) in pinned host memory, valid until the
        next call."""
        slot = self._claim_slot()
        batch = self._upload(slot, feeds)
        self._execute(batch)
        out = self._host_out.array[:batch]
        cudart = self._cudart
        cuda_call(
            cudart.cudaMemcpyAsync(
                self._host_out.ptr,
                self._device[self._output_name],
                out.nbytes,
                cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                self._stream,
            )
        )
        cuda_call(cudart.cudaStreamSynchronize(self._stream))
        return out

    def describe(self) -> dict[str, object]:
        return {
            "backend": self.name,
            "engine": self.source,
            "tensorrt": self._trt_version,
            "batch_range": [self.min_batch, self.max_batch],
            "output_dtype": self._dtypes[self._output_name].name,
            "cuda_graphs": self.cuda_graphs,
            "graphs_captured": sorted(self._graphs),
            "graph_failures": {str(k): v for k, v in self.graph_failures.items()},
            "device_bytes": self.device_bytes,
        }

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        cudart = self._cudart
        if self._stream is not None:
            cudart.cudaStreamSynchronize(self._stream)
        for graph in self._graphs.values():
            cudart.cudaGraphExecDestroy(graph)
        self._graphs.clear()
        for event in self._events:
            cudart.cudaEventDestroy(event)
        # The context uses the engine and the scratch memory: release it first.
        self._context = None
        self._engine = None
        for ptr in self._device_ptrs:
            cudart.cudaFree(ptr)
        for buf in self._pinned:
            cudart.cudaFreeHost(buf.ptr)
        self._device_ptrs.clear()
        self._pinned.clear()
        if self._stream is not None:
            cudart.cudaStreamDestroy(self._stream)
            self._stream = None

    # -- frames made on the device ----------------------------------------------------------
    def infer_frames(
        self,
        feeds: Feeds,
        order: str = "rgb",
        out: NDArray[np.uint8] | None = None,
        colour: ColourProgram | None = None,
    ) -> NDArray[np.uint8]:
        """uint8 (N, H, W, Cout) frames, post-processed on the GPU; only they are copied back.
        `colour` (a chain's leading colour ops) runs in the same device pass.

        Without `out` the result lives in pinned memory until the next call.
        """
        frames = self._wait(self.submit_frames(feeds, order, colour))
        if out is None:
            return frames
        out[...] = frames
        return out

    def stream_frames(
        self, batches: Iterable[Feeds], order: str = "rgb"
    ) -> Iterator[NDArray[np.uint8]]:
        """Frames batch by batch; batch k+1 is queued before batch k is waited for, so the
        host prepares the next latents while the GPU runs. Each yielded array is valid until
        the next one is asked for."""
        waiting: int | None = None
        for feeds in batches:
            slot = self.submit_frames(feeds, order)
            if waiting is not None:
                yield self._wait(waiting)
            waiting = slot
        if waiting is not None:
            yield self._wait(waiting)

    def submit_frames(
        self,
        feeds: Feeds,
        order: str,
        colour: ColourProgram | None = None,
    ) -> int:
        """Queue one batch (copy in, run, post-process, copy frames out); returns its slot."""
        if order not in _ORDERS:
            raise ImggenError(f"order must be one of {', '.join(_ORDERS)}, got {order!r}")
        from .. import _postproc

        slot = self._claim_slot()
        if not self.card.output.canonical:
            raise ImggenError("the device pass reads NCHW RGB output; this model's is not")
        batch = self._upload(slot, feeds)
        self._execute(batch)
        c, h, w = self._item_shapes[self._output_name]
        cout = 1 if order == "gray" else 3
        shape = (batch, h, w, cout)
        low, high = self.card.output_range
        images = DeviceArray(
            self._device[self._output_name], (batch, c, h, w), self._dtypes[self._output_name]
        )
        frames = DeviceArray(self._device_frames, shape, np.dtype(np.uint8))
        try:
            if colour is None:
                _postproc.denormalize_cuda(images, low, high, order, frames, self._stream_handle)
            else:
                program, tables = colour
                luts = [self._device_lut(t) for t in tables]
                _postproc.point_cuda(
                    images, program, luts, order, low, high, frames, self._stream_handle
                )
        except (ValueError, RuntimeError) as e:
            raise ImggenError(f"device post-process failed: {e}") from None
        cudart = self._cudart
        cuda_call(
            cudart.cudaMemcpyAsync(
                self._host_frames[slot].ptr,
                self._device_frames,
                batch * h * w * cout,
                cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                self._stream,
            )
        )
        cuda_call(cudart.cudaEventRecord(self._events[slot], self._stream))
        self._pending[slot] = (batch, shape)
        return slot

    # -- internals --------------------------------------------------------------------------
    @property
    def _inputs(self) -> list[str]:
        return [spec.name for spec in self.card.input_specs]

    def _batch_shape(self, name: str, batch: int) -> tuple[int, ...]:
        item = self._item_shapes[name]
        return item if name in self._unbatched else (batch, *item)

    def _malloc(self, nbytes: int) -> int:
        ptr = int(cuda_call(self._cudart.cudaMalloc(nbytes)))
        self._device_ptrs.append(ptr)
        self.device_bytes += nbytes
        return ptr

    def _device_lut(self, table: NDArray[np.float32]) -> DeviceArray:
        """A LUT table on the device, uploaded the first time this table object is seen."""
        cached = self._device_luts.get(id(table))
        if cached is not None:
            return cached[1]
        host = np.ascontiguousarray(table, dtype=np.float32)
        ptr = self._malloc(host.nbytes)
        cudart = self._cudart
        kind = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        cuda_call(cudart.cudaMemcpy(ptr, host.ctypes.data, host.nbytes, kind))
        device = DeviceArray(ptr, host.shape, np.dtype(np.float32))
        self._device_luts[id(table)] = (table, device)
        return device

    def _pin(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> _PinnedBuffer:
        buf = _PinnedBuffer(self._cudart, shape, dtype)
        self._pinned.append(buf)
        return buf

    def _claim_slot(self) -> int:
        """The next host slot, once the GPU has finished with what it last held."""
        if self._closed:
            raise ImggenError("this TensorRT backend is closed")
        slot = self._next_slot
        self._next_slot = (slot + 1) % _SLOTS
        if self._pending[slot] is not None:
            cuda_call(self._cudart.cudaEventSynchronize(self._events[slot]))
        return slot

    def _wait(self, slot: int) -> NDArray[np.uint8]:
        pending = self._pending[slot]
        if pending is None:
            raise ImggenError("no batch is pending in this slot")
        cuda_call(self._cudart.cudaEventSynchronize(self._events[slot]))
        self._pending[slot] = None
        _, shape = pending
        size = int(np.prod(shape))
        return self._host_frames[slot].array[:size].reshape(shape)

    def _upload(self, slot: int, feeds: Feeds) -> int:
        batch = len(feeds)
        if not self.min_batch <= batch <= self.max_batch:
            raise ImggenError(
                f"batch {batch} is outside the engine's profile "
                f"{self.min_batch}..{self.max_batch}; rebuild with `imggen-rt build --batch` "
                "covering it"
            )
        values = graph_inputs(self.card.input_specs, self.card.num_classes, feeds)
        cudart = self._cudart
        for name, value in values.items():
            host = self._host_in[slot][name].array
            host = host if name in self._unbatched else host[:batch]
            host[...] = value
            cuda_call(
                cudart.cudaMemcpyAsync(
                    self._device[name],
                    self._host_in[slot][name].ptr,
                    host.nbytes,
                    cudart.cudaMemcpyKind.cudaMemcpyHostToDevice,
                    self._stream,
                )
            )
        return batch

    def _execute(self, batch: int) -> None:
        if batch != self._shape_batch:
            for name in self._inputs:
                shape = self._batch_shape(name, batch)
                if not self._context.set_input_shape(name, shape):
                    raise ImggenError(f"TensorRT refused input shape {shape} for '{name}'")
            self._shape_batch = batch
        graph = self._graphs.get(batch)
        if graph is not None:
            cuda_call(self._cudart.cudaGraphLaunch(graph, self._stream))
            return
        if not self._context.execute_async_v3(self._stream_handle):
            raise ImggenError("TensorRT could not run the engine (its log above says why)")
        # That run was the warm-up TensorRT needs before capture (it settles shape-dependent
        # state); from the next batch of this size on, one graph launch replaces the enqueue.
        if self.cuda_graphs and batch not in self.graph_failures:
            self._capture(batch)

    def _capture(self, batch: int) -> None:
        cudart = self._cudart
        ok_code = cudart.cudaError_t.cudaSuccess
        mode = cudart.cudaStreamCaptureMode.cudaStreamCaptureModeGlobal
        (err,) = cudart.cudaStreamBeginCapture(self._stream, mode)
        if err != ok_code:
            self._graph_failed(batch, f"begin capture: {error_text(err)}")
            return
        enqueued = self._context.execute_async_v3(self._stream_handle)
        err, graph = cudart.cudaStreamEndCapture(self._stream)  # always end what was begun
        if not enqueued or err != ok_code:
            if graph is not None and err == ok_code:
                cudart.cudaGraphDestroy(graph)
            cudart.cudaGetLastError()  # clear the capture error so later calls do not see it
            why = error_text(err) if err != ok_code else "enqueue failed during capture"
            self._graph_failed(batch, why)
            return
        err, graph_exec = cudart.cudaGraphInstantiate(graph, 0)
        cudart.cudaGraphDestroy(graph)  # the executable graph does not need it
        if err != ok_code:
            self._graph_failed(batch, f"instantiate: {error_text(err)}")
            return
        self._graphs[batch] = graph_exec

    def _graph_failed(self, batch: int, why: str) -> None:
        self.graph_failures[batch] = why
        log.warning("CUDA graph capture failed for batch %d (%s); enqueueing plainly", batch, why)

    def __enter__(self) -> TrtBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_io(
    trt: Any, engine: Any, card: ModelCard, source: str
) -> tuple[str, dict[str, np.dtype[Any]]]:
    """The engine's I/O must be the card's: its inputs by name in, the image out."""
    names = [str(engine.get_tensor_name(i)) for i in range(int(engine.num_io_tensors))]
    inputs = {n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT}
    outputs = [n for n in names if n not in inputs]
    expected = {spec.name for spec in card.input_specs}
    wanted_output = card.output.name
    if (
        inputs != expected
        or len(outputs) != 1
        or (wanted_output is not None and outputs != [wanted_output])
    ):
        raise ImggenError(
            f"{source}: engine inputs {sorted(inputs)} and outputs {outputs} do not match the "
            f"model card (inputs {sorted(expected)}, one output)"
        )
    dtypes = {n: np.dtype(trt.nptype(engine.get_tensor_dtype(n))) for n in names}
    return outputs[0], dtypes
