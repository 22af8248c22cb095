"""`imggen-rt bench`: imggen-rt and its peers timed side by side, with the machine's limits.

One call, `run_suite([BenchConfig(model)])`, returns a report dict (schema in
docs/bench_schema.md, validated by `schema.validate`); `write_outputs` writes it as JSON,
markdown and a plot. Each contender runs in its own worker process (`worker.py`).
"""

from __future__ import annotations

from .config import DEFAULT_BACKENDS, IMGGEN_BACKENDS, PEERS, BenchConfig
from .report import markdown, print_tables, write_outputs
from .runner import SCHEMA, run_suite
from .schema import validate

__all__ = [
    "DEFAULT_BACKENDS",
    "IMGGEN_BACKENDS",
    "PEERS",
    "SCHEMA",
    "BenchConfig",
    "markdown",
    "print_tables",
    "run_suite",
    "validate",
    "write_outputs",
]
