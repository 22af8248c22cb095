"""ONNX -> serialized TensorRT engine, as NVIDIA's samples build one (TensorRT 10.3 .. 11.x).

TensorRT 11 removed the precision builder flags and always builds strongly typed networks, so
FP16 comes from the ONNX (converted by `imggen_rt.fp16`, inputs/outputs kept FP32) and the
network is created STRONGLY_TYPED. On 10.x the older weakly typed route (an FP32 network plus
`BuilderFlag.FP16`) can still be asked for; it is looked up by name, never assumed.
Enum values are never written as numbers: they moved between 10 and 11.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..atomic import atomic_write_bytes
from ..backends.profiles import BatchProfile, input_shapes
from ..card import ModelCard
from ..errors import ImggenError

TYPINGS = ("strong", "weak")


@dataclass(frozen=True)
class TrtOptions:
    opt_level: int = 3  # TensorRT's default; 5 searches longest
    workspace_bytes: int | None = None  # None: TensorRT's default (the device's memory)
    dla_core: int | None = None
    typing: str = "strong"

    def __post_init__(self) -> None:
        if not 0 <= self.opt_level <= 5:
            raise ImggenError(f"--opt-level must be 0..5, got {self.opt_level}")
        if self.workspace_bytes is not None and self.workspace_bytes < 1:
            raise ImggenError("--workspace must be positive")
        if self.dla_core is not None and self.dla_core < 0:
            raise ImggenError("--dla-core must be >= 0")
        if self.typing not in TYPINGS:
            raise ImggenError(f"typing must be one of {', '.join(TYPINGS)}")

    def to_manifest(self) -> dict[str, str | int | None]:
        return {
            "opt_level": self.opt_level,
            "workspace_bytes": self.workspace_bytes,
            "dla_core": self.dla_core,
            "typing": self.typing,
        }


def build_plan(
    trt: ModuleType,
    onnx_bytes: bytes,
    card: ModelCard,
    profile: BatchProfile,
    options: TrtOptions,
    precision: str,
    timing_cache: Path | None = None,
) -> bytes:
    """A serialized engine for `onnx_bytes` (already FP16 for a strongly typed FP16 build)."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt, options, precision))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ImggenError(f"TensorRT cannot parse the ONNX: {' | '.join(errors) or 'no reason'}")

    config = builder.create_builder_config()
    if options.workspace_bytes is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_bytes)
    config.builder_optimization_level = options.opt_level
    if options.typing == "weak" and precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)  # present: _network_flags checked it
    if options.dla_core is not None:
        _use_dla(trt, builder, config, options.dla_core)

    trt_profile = builder.create_optimization_profile()
    low, opt, high = (input_shapes(card, b) for b in (profile.min, profile.opt, profile.max))
    for name in low:
        trt_profile.set_shape(name, min=low[name], opt=opt[name], max=high[name])
    config.add_optimization_profile(trt_profile)

    # A timing cache from an earlier build makes later builds on this GPU much faster;
    # ignore_mismatch=True lets a cache from a slightly different device be used as a hint.
    cached = timing_cache.read_bytes() if timing_cache and timing_cache.is_file() else b""
    config.set_timing_cache(config.create_timing_cache(cached), True)

    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ImggenError("TensorRT could not build the engine (its log above says why)")
    if timing_cache is not None:
        atomic_write_bytes(timing_cache, bytes(memoryview(config.get_timing_cache().serialize())))
    return bytes(memoryview(plan))


def _network_flags(trt: ModuleType, options: TrtOptions, precision: str) -> int:
    if options.typing == "strong":
        return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    if precision == "fp16" and not hasattr(trt.BuilderFlag, "FP16"):
        raise ImggenError(
            f"TensorRT {trt.__version__} has no FP16 builder flag (removed in TensorRT 11): "
            "build strongly typed (the default) instead of --weakly-typed"
        )
    return 0


def _use_dla(trt: ModuleType, builder: Any, config: Any, core: int) -> None:
    """Run on a Deep Learning Accelerator core; layers it cannot run fall back to the GPU."""
    cores = int(builder.num_DLA_cores)
    if cores == 0:
        raise ImggenError(
            "this device has no DLA cores (DLA is on Jetson AGX Orin and Orin NX, not Thor)"
        )
    if core >= cores:
        raise ImggenError(f"--dla-core {core} does not exist: this device has {cores} DLA cores")
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = core
    config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
