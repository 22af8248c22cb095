"""Prometheus metrics of one server, in a registry of its own (several apps per process in
tests, and no global state leaking between them)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "imggen_requests",
            "Generate requests by model and HTTP status",
            ["model", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "imggen_request_seconds",
            "Whole generate requests, arrival to response body",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "imggen_stage_seconds",
            "Time per stage: queue (waiting for a batch), infer (batch), encode (per request)",
            ["model", "stage"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_images = Histogram(
            "imggen_batch_images",
            "Images per inference batch (dynamic batching merges requests)",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "imggen_queue_images",
            "Images waiting for inference",
            ["model"],
            registry=self.registry,
        )
