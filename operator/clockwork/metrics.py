"""Prometheus metrics, one registry for the whole process.

Names follow controller-runtime where a concept maps (``*_reconcile_total``); the
rest are Clockwork's domain metrics. docs/metrics.md lists every one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, write_to_textfile

if TYPE_CHECKING:
    from clockwork.completion.base import Proposal

REGISTRY = CollectorRegistry(auto_describe=True)

COMPLETION_REQUESTS = Counter(
    "clockwork_completion_requests_total",
    "Completions asked of a completer, by outcome (ok, unresolved, rejected, unavailable).",
    ["completer", "model", "result"],
    registry=REGISTRY,
)
COMPLETION_DURATION = Histogram(
    "clockwork_completion_duration_seconds",
    "Time one completion took, retries included.",
    ["completer", "model"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
MODEL_REQUESTS = Counter(
    "clockwork_completion_model_requests_total",
    "Requests sent to a model endpoint (one completion may retry several times).",
    ["model"],
    registry=REGISTRY,
)
MODEL_TOKENS = Counter(
    "clockwork_completion_tokens_total",
    "Tokens used by completion, by direction (input, output).",
    ["model", "direction"],
    registry=REGISTRY,
)
COMPLETION_CACHE_HITS = Counter(
    "clockwork_completion_cache_hits_total",
    "Completions answered from the cache (status or local state) without asking a completer.",
    ["completer", "model"],
    registry=REGISTRY,
)


def record_completion(completer: str, model: str | None, proposal: Proposal, seconds: float) -> None:
    label = model or "none"
    if proposal.temporary_error:
        result = "unavailable"
    elif proposal.error:
        result = "rejected"
    elif proposal.unresolved:
        result = "unresolved"
    else:
        result = "ok"
    COMPLETION_REQUESTS.labels(completer, label, result).inc()
    COMPLETION_DURATION.labels(completer, label).observe(seconds)
    if proposal.requests:
        MODEL_REQUESTS.labels(label).inc(proposal.requests)
    if proposal.input_tokens:
        MODEL_TOKENS.labels(label, "input").inc(proposal.input_tokens)
    if proposal.output_tokens:
        MODEL_TOKENS.labels(label, "output").inc(proposal.output_tokens)


def write_textfile(path: Path) -> None:
    """Write the registry for node_exporter's textfile collector (local mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), REGISTRY)
