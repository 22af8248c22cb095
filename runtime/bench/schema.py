"""The report's JSON Schema (draft 2020-12 subset) and a small validator for it.

The schema is the contract for anyone who reads the JSON (plots, dashboards, regressions);
docs/bench_schema.md explains each field. The validator implements the keywords the schema
uses (type, required, properties, additionalProperties, items, enum, const, minimum), so the
runtime needs no jsonschema package; any full validator accepts the same documents.
"""

from __future__ import annotations

from typing import Any

from .runner import SCHEMA

_NUM = {"type": "number"}
_NUM_OR_NULL = {"type": ["number", "null"]}
_STR = {"type": "string"}
_STATS = {
    "type": "object",
    "required": ["min", "max", "mean", "median", "p90", "p95", "p99", "cv", "n"],
    "properties": {
        **{k: _NUM for k in ("min", "max", "mean", "median", "p90", "p95", "p99", "cv")},
        "n": {"type": "integer", "minimum": 1},
    },
    "additionalProperties": False,
}
_LIMITS = {
    "type": "object",
    "required": ["matmul_gflops", "copy_gbps"],
    "properties": {
        "matmul_gflops": _NUM,
        "copy_gbps": _NUM,
        "bf16_matmul_gflops": _NUM_OR_NULL,
    },
}
_RESULT = {
    "type": "object",
    "required": [
        "contender",
        "batch",
        "scope",
        "iterations",
        "images_per_s",
        "latency_ms",
        "infer_ms",
        "stages_mean_ms",
        "warnings",
        "infer_gflops",
        "infer_share_of_matmul",
    ],
    "properties": {
        "contender": _STR,
        "batch": {"type": "integer", "minimum": 1},
        "scope": {"enum": ["seeds -> uint8 frames", "inference alone"]},
        "iterations": {"type": "integer", "minimum": 1},
        "images_per_s": _NUM,
        "latency_ms": _STATS,
        "infer_ms": _STATS,
        "stages_mean_ms": {
            "type": "object",
            "required": ["latents", "h2d", "infer", "postprocess", "d2h"],
            "properties": {
                k: _NUM_OR_NULL for k in ("latents", "h2d", "infer", "postprocess", "d2h")
            },
            "additionalProperties": False,
        },
        "warnings": {"type": "array", "items": _STR},
        "infer_gflops": _NUM,
        "infer_share_of_matmul": _NUM,
        "infer_share_of_bf16_matmul": _NUM,
    },
    "additionalProperties": False,
}
_MODEL = {
    "type": "object",
    "required": [
        "label",
        "model",
        "card",
        "flops_per_image",
        "config",
        "contenders",
        "skipped",
        "results",
        "cold_start",
    ],
    "properties": {
        "label": _STR,
        "model": _STR,
        "card": {"type": "object", "required": ["resolution", "channels", "latent_dim"]},
        "flops_per_image": {"type": "integer", "minimum": 0},
        "config": {
            "type": "object",
            "required": ["batches", "warmup_s", "duration_s"],
            "properties": {"batches": {"type": "array", "items": {"type": "integer"}}},
        },
        "contenders": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["kind", "load_s", "describe", "peak_rss_bytes"],
                "properties": {
                    "kind": {"enum": ["imggen-rt", "peer"]},
                    "load_s": _NUM,
                    "describe": {"type": "object"},
                    "peak_rss_bytes": {"type": "integer", "minimum": 0},
                    "max_abs_diff": _NUM,
                    "diff_reference": _STR,
                    "psnr_db": {"anyOf": [_NUM, {"const": "inf"}, {"type": "null"}]},
                },
            },
        },
        "skipped": {"type": "object", "additionalProperties": _STR},
        "results": {"type": "array", "items": _RESULT},
        "cold_start": {"type": "object", "additionalProperties": {"type": "object"}},
    },
    "additionalProperties": False,
}
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "imggen-rt bench report",
    "type": "object",
    "required": ["schema", "machine", "limits", "models", "goals"],
    "properties": {
        "schema": {"const": SCHEMA},
        "machine": {"type": "object", "required": ["cpu", "usable_cpus", "date"]},
        "limits": {
            **_LIMITS,
            "properties": {**_LIMITS["properties"], "before": _LIMITS, "after": _LIMITS},  # type: ignore[dict-item]
        },
        "models": {"type": "array", "items": _MODEL},
        "goals": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["goal", "model", "batch", "value", "target", "met"],
                "properties": {"met": {"type": "boolean"}, "value": _NUM},
            },
        },
    },
    "additionalProperties": False,
}

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def validate(doc: Any, schema: dict[str, Any] | None = None, where: str = "$") -> list[str]:
    """Every place `doc` breaks the schema, as 'path: why'; empty when it conforms."""
    schema = JSON_SCHEMA if schema is None else schema
    errors: list[str] = []
    if "const" in schema and doc != schema["const"]:
        errors.append(f"{where}: must be {schema['const']!r}")
    if "enum" in schema and doc not in schema["enum"]:
        errors.append(f"{where}: must be one of {schema['enum']}")
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        # bool is an int in Python but not a number in JSON
        ok = any(
            isinstance(doc, _TYPES[n]) and not (isinstance(doc, bool) and n != "boolean")
            for n in names
        )
        if not ok:
            return [*errors, f"{where}: must be {' or '.join(names)}"]
    if "minimum" in schema and isinstance(doc, (int, float)) and doc < schema["minimum"]:
        errors.append(f"{where}: must be >= {schema['minimum']}")
    if isinstance(doc, dict):
        errors += [f"{where}: missing {k!r}" for k in schema.get("required", []) if k not in doc]
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in doc.items():
            if key in props:
                errors += validate(value, props[key], f"{where}.{key}")
            elif extra is False:
                errors.append(f"{where}: unexpected {key!r}")
            elif isinstance(extra, dict):
                errors += validate(value, extra, f"{where}.{key}")
    if isinstance(doc, list) and "items" in schema:
        for i, item in enumerate(doc):
            errors += validate(item, schema["items"], f"{where}[{i}]")
    return errors
