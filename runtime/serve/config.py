"""The server's settings, read once for both engines: the in-process batcher (`imggen-rt
serve`) and Ray Serve (`serve --ray`, `serve run ...:app_builder`). The defaults live here only;
the CLI's flags and the Ray app builder's arguments go through `from_options`. No FastAPI or Ray
import here, so the CLI can show the defaults without the extras installed."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..errors import ImggenError

APP_NAME = "imggen"


@dataclass(frozen=True)
class ServeConfig:
    max_batch: int = 16
    max_wait_ms: float = 5.0
    max_queue: int = 256
    timeout_s: float = 30.0
    token: str | None = None

    @classmethod
    def from_options(
        cls,
        max_batch: int | None = None,
        max_wait_ms: float | None = None,
        max_queue: int | None = None,
        timeout_s: float | None = None,
        token: str | None = None,
    ) -> ServeConfig:
        """Settings from options a user may leave out (None: the default)."""
        given = {"max_batch": max_batch, "max_wait_ms": max_wait_ms, "max_queue": max_queue}
        config = cls(**_defaults_for(cls, given, timeout_s=timeout_s), token=token)
        if config.max_batch < 1 or config.max_queue < 1 or not 0 <= config.max_wait_ms <= 60e3:
            raise ImggenError("--max-batch and --max-queue must be >= 1, --max-wait-ms in 0..60000")
        if not 0 < config.timeout_s <= 3600:  # NaN fails too: it compares false
            raise ImggenError(f"--timeout must be in (0, 3600] seconds, got {config.timeout_s}")
        return config


@dataclass(frozen=True)
class Scaling:
    """How many replicas: a fixed count, or autoscaling between min and max on the number of
    requests each replica has in flight. `replica_cpus` is fractional so several replicas (or
    one replica beside Ray's own actors) fit on a 2-CPU box; it also sets the replica's
    inference threads (at least one)."""

    replicas: int | None = 1
    min_replicas: int = 1
    max_replicas: int = 2
    target_ongoing_requests: float = 8.0
    replica_cpus: float = 0.5

    def __post_init__(self) -> None:
        if self.replicas is not None and self.replicas < 1:
            raise ImggenError(f"replicas must be >= 1, got {self.replicas}")
        if not 0 <= self.min_replicas <= self.max_replicas or self.max_replicas < 1:
            raise ImggenError(
                f"need 0 <= min replicas <= max replicas, max >= 1; got "
                f"{self.min_replicas}..{self.max_replicas}"
            )
        if not 0 < self.target_ongoing_requests < float("inf"):
            raise ImggenError("target ongoing requests must be > 0")
        if not 0 < self.replica_cpus <= 1024:  # NaN fails too
            raise ImggenError(f"replica CPUs must be in (0, 1024], got {self.replica_cpus}")

    @property
    def threads(self) -> int:
        return max(1, round(self.replica_cpus))

    def deployment_options(self, config: ServeConfig) -> dict[str, Any]:
        """Keyword arguments for `serve.deployment`."""
        options: dict[str, Any] = {
            "name": APP_NAME,
            "ray_actor_options": {"num_cpus": self.replica_cpus},
            # Requests waiting in @serve.batch count as ongoing: the limit must let a batch
            # fill. Images per replica are bounded by the frame source (429), like one box.
            "max_ongoing_requests": max(config.max_queue, 2 * config.max_batch),
            # Past this many requests waiting in a proxy for a free replica, Ray answers 503:
            # the cluster's queue is bounded too, not only each replica's.
            "max_queued_requests": config.max_queue,
            "graceful_shutdown_timeout_s": config.timeout_s,
        }
        if self.replicas is not None:
            options["num_replicas"] = self.replicas
        else:
            options["num_replicas"] = "auto"
            options["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing_requests,
            }
        return options

    @classmethod
    def from_options(
        cls,
        replicas: str | None = None,
        min_replicas: int | None = None,
        max_replicas: int | None = None,
        target_ongoing_requests: float | None = None,
        replica_cpus: float | None = None,
    ) -> Scaling:
        """A replica count or 'auto' (None: the default count); the autoscaling bounds only
        with 'auto'; None elsewhere takes the default."""
        autoscaling = {
            "min_replicas": min_replicas,
            "max_replicas": max_replicas,
            "target_ongoing_requests": target_ongoing_requests,
        }
        cpus = _defaults_for(cls, {"replica_cpus": replica_cpus})
        if replicas == "auto":
            return cls(replicas=None, **_defaults_for(cls, autoscaling), **cpus)
        if replicas is not None and not replicas.isdigit():
            raise ImggenError(f"--replicas takes a count or 'auto', got {replicas!r}")
        if any(v is not None for v in autoscaling.values()):
            raise ImggenError("--min-replicas/--max-replicas/--target-ongoing need --replicas auto")
        count = _defaults_for(cls, {"replicas": None if replicas is None else int(replicas)})
        return cls(**count, **cpus)


def _defaults_for(cls: type, given: dict[str, Any], **more: Any) -> dict[str, Any]:
    """`given` with each None replaced by the dataclass field's default."""
    defaults = {f.name: f.default for f in fields(cls)}
    return {k: defaults[k] if v is None else v for k, v in {**given, **more}.items()}
