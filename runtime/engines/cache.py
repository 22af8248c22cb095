"""The artifact cache: one folder per (model, target, precision), judged by its manifest.

A cached artifact is reused only when its manifest matches the request exactly and the file
still has the hash the manifest recorded; a stale one (the ONNX, the precision, the batch
profile or a builder option changed) is rebuilt; a foreign one (built on another GPU or with
another TensorRT) is refused with the reason, because the cache folder may be shared between
machines and that engine is someone else's.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..atomic import TEMP_PREFIX, atomic_write_text, file_lock
from ..backends.platform import Platform
from ..errors import ImggenError
from ..system import default_cache_dir
from .manifest import MANIFEST_NAME, BuildRequest, Manifest, sha256_file


class State(enum.Enum):
    MISSING = "missing"
    MATCH = "match"
    STALE = "stale"
    FOREIGN = "foreign"


@dataclass(frozen=True)
class Verdict:
    state: State
    reason: str
    manifest: Manifest | None = None


def foreign_reason(built: Platform | None, here: Platform | None) -> str | None:
    """Why an artifact built on `built` cannot run on `here`, or None when it can."""
    if built is None or here is None:
        return None if built == here else "built for another kind of target"
    diffs = [
        f"{what} {theirs!r} (here: {here.binding_fields()[what]!r})"
        for what, theirs in built.binding_fields().items()
        if theirs != here.binding_fields()[what]
    ]
    return ("built for " + ", ".join(diffs)) if diffs else None


def stale_reasons(old: BuildRequest, new: BuildRequest) -> list[str]:
    """What changed between the cached request and this one (platform aside)."""
    reasons = []
    if old.onnx_sha256 != new.onnx_sha256:
        reasons.append(
            f"the ONNX changed (sha256 {old.onnx_sha256[:12]} -> {new.onnx_sha256[:12]})"
        )
    if old.target != new.target or old.precision != new.precision:
        reasons.append(f"{old.target}/{old.precision} -> {new.target}/{new.precision}")
    if old.profile != new.profile:
        reasons.append(f"batch sizes {_batches(old)} -> {_batches(new)}")
    for name in sorted(set(old.builder) | set(new.builder)):
        before, after = old.builder.get(name), new.builder.get(name)
        if before != after:
            reasons.append(f"{name} {before} -> {after}")
    if not reasons and old.key() != new.key():  # e.g. CUDA runtime changed, same GPU and TRT
        reasons.append("the build environment changed")
    return reasons


def judge(manifest: Manifest | None, request: BuildRequest, artifact: Path) -> Verdict:
    if manifest is None:
        return Verdict(State.MISSING, "nothing cached yet")
    foreign = foreign_reason(manifest.request.platform, request.platform)
    if foreign:
        return Verdict(State.FOREIGN, foreign, manifest)
    changed = stale_reasons(manifest.request, request)
    if changed:
        return Verdict(State.STALE, "; ".join(changed), manifest)
    if not artifact.is_file():
        return Verdict(State.STALE, f"{artifact.name} is missing", manifest)
    if sha256_file(artifact) != manifest.artifact_sha256:
        return Verdict(State.STALE, f"{artifact.name} does not match its manifest", manifest)
    return Verdict(State.MATCH, "cached artifact matches", manifest)


class CacheSlot:
    """One cache folder: the artifact, `manifest.json`, and a lock file beside the folder."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.dir = root / name
        self.manifest_path = self.dir / MANIFEST_NAME
        self.lock_path = root / f".{name}.lock"
        # Beside the folder, like the lock: a refused build leaves no folder behind.
        self.refusal_path = root / f".{name}.refused.json"

    def read_manifest(self) -> Manifest | None:
        """The cached manifest, None when there is none; an unreadable one raises."""
        if not self.manifest_path.is_file():
            return None
        return Manifest.read(self.manifest_path)

    def verdict(self, request: BuildRequest, artifact_name: str) -> Verdict:
        try:
            manifest = self.read_manifest()
        except ImggenError as e:
            return Verdict(State.STALE, f"unreadable manifest ({e})")
        return judge(manifest, request, self.dir / artifact_name)

    @contextmanager
    def locked(self, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        with file_lock(self.lock_path, on_wait):
            self._remove_leftovers()
            yield

    def _remove_leftovers(self) -> None:
        """Temporary files of a build that was killed: every writer of this folder holds its
        lock, so with the lock held here no `.tmp-*` file in it belongs to anyone alive."""
        if not self.dir.is_dir():
            return
        for leftover in self.dir.glob(TEMP_PREFIX + "*"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    def record_refusal(self, request: BuildRequest, reason: str) -> None:
        """Remember that the gate refused what `request` builds, so a build on first use does
        not try the same thing on every run (an explicit `imggen-rt build` still does)."""
        atomic_write_text(self.refusal_path, json.dumps({"key": request.key(), "reason": reason}))

    def refusal(self, request: BuildRequest) -> str | None:
        """Why the gate refused this exact request before; None when it did not (or the ONNX,
        platform or options changed since)."""
        try:
            record = json.loads(self.refusal_path.read_text(encoding="utf-8"))
            if record.get("key") == request.key():
                return str(record["reason"])
        except (OSError, ValueError, KeyError, AttributeError):
            pass  # none, or unreadable: as if never refused
        return None

    def commit(self, checked_artifact: Path, manifest: Manifest) -> Path:
        """Move an artifact that passed the gate into place, then write its manifest.

        The manifest goes last and records the artifact's hash: a crash between the two
        leaves an artifact its old manifest does not match, which `judge` calls stale.
        """
        target = self.dir / manifest.artifact
        os.replace(checked_artifact, target)
        atomic_write_text(self.manifest_path, manifest.to_json())
        self.refusal_path.unlink(missing_ok=True)
        return target


class ArtifactCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_cache_dir()

    def slot(self, model_name: str, target: str, precision: str) -> CacheSlot:
        """`<model stem>.trt-fp16`, `<model stem>.onnx-fp16`: one per model name and kind, so
        a re-exported model.onnx replaces its stale engine instead of piling up beside it."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model_name).stem) or "model"
        kind = target if target.endswith(precision) else f"{target}-{precision}"
        return CacheSlot(self.root, f"{stem}.{kind}")

    def timing_cache_path(self, platform: Platform) -> Path:
        """TensorRT's timing cache is per GPU model and TensorRT version, shared by models."""
        tag = re.sub(
            r"[^A-Za-z0-9.]+",
            "_",
            f"{platform.device}-sm{platform.compute_capability}-trt{platform.library_version}",
        )
        return self.root / "timing" / f"{tag}.cache"


def _batches(request: BuildRequest) -> str:
    return ",".join(str(b) for b in request.profile.batches)


ENGINE_LABELS = {"trt": "TensorRT", "openvino": "OpenVINO"}


def find_engine(
    cache: ArtifactCache,
    model: Path,
    here: Platform,
    target: str = "trt",
    precisions: tuple[str, ...] = ("fp16", "fp32"),
) -> tuple[Path, Manifest]:
    """The engine to run for `model`: a cache folder (or its manifest), or an ONNX whose
    `target` engine was built into `cache` (the first of `precisions` found). Refuses foreign,
    stale or damaged ones."""
    label = ENGINE_LABELS[target]
    onnx_sha: str | None = None
    if model.is_dir():
        slot_dir = model
    elif model.name == MANIFEST_NAME:
        slot_dir = model.parent
    else:
        if not model.is_file():
            raise ImggenError(f"model file {model} does not exist")
        onnx_sha = sha256_file(model)
        candidates = [cache.slot(model.name, target, p) for p in precisions]
        found = next((s for s in candidates if s.manifest_path.is_file()), None)
        if found is None:
            wanted = "/".join(precisions)
            raise ImggenError(
                f"no {label} engine ({wanted}) for {model.name} in {cache.root}: build one with "
                f"`imggen-rt build {model.name} --target {target} --precision {precisions[0]}`"
            )
        slot_dir = found.dir
    manifest = Manifest.read(slot_dir / MANIFEST_NAME)
    if manifest.request.target != target:
        raise ImggenError(
            f"{slot_dir} holds a {manifest.request.target} artifact, not a {label} engine"
        )
    rebuild = (
        f"rebuild it here with `imggen-rt build {manifest.onnx_name} --target {target} "
        f"--precision {manifest.request.precision}`"
    )
    foreign = foreign_reason(manifest.request.platform, here)
    if foreign:
        raise ImggenError(f"refusing the engine in {slot_dir}: {foreign}; {rebuild}")
    if onnx_sha is not None and onnx_sha != manifest.request.onnx_sha256:
        raise ImggenError(f"the engine in {slot_dir} is stale: {model.name} changed; {rebuild}")
    engine = slot_dir / manifest.artifact
    if not engine.is_file() or sha256_file(engine) != manifest.artifact_sha256:
        raise ImggenError(f"{engine} is missing or does not match its manifest; {rebuild}")
    if not manifest.parity.passed:
        raise ImggenError(f"the engine in {slot_dir} failed its parity gate; {rebuild}")
    return engine, manifest
