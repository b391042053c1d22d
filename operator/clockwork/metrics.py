"""Prometheus metrics, one registry for the whole process.

Names follow controller-runtime where a concept maps (``*_reconcile_total``); the
rest are Clockwork's domain metrics. docs/metrics.md lists every one.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, write_to_textfile

if TYPE_CHECKING:
    from clockwork.completion.base import Proposal

REGISTRY = CollectorRegistry(auto_describe=True)
# process_cpu_seconds_total, process_resident_memory_bytes, ... for the operator dashboard
ProcessCollector(registry=REGISTRY)

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


RECONCILE_TOTAL = Counter(
    "clockwork_reconcile_total",
    "Reconcile passes by kind and result (success, error, requeue).",
    ["kind", "result"],
    registry=REGISTRY,
)
RECONCILE_DURATION = Histogram(
    "clockwork_reconcile_duration_seconds",
    "Time one reconcile pass took (completion, apply and checks included).",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
RESOURCE_READY = Gauge(
    "clockwork_resource_ready",
    "1 when the resource's Ready condition is True, else 0.",
    ["kind", "namespace", "name"],
    registry=REGISTRY,
)
RESOURCE_HEALTHY = Gauge(
    "clockwork_resource_healthy",
    "1 when the resource's Healthy condition is True, else 0.",
    ["kind", "namespace", "name"],
    registry=REGISTRY,
)
HEALTH_CHECKS = Counter(
    "clockwork_health_checks_total",
    "Health checks by kind and result (healthy, unhealthy, error).",
    ["kind", "result"],
    registry=REGISTRY,
)
REMEDIATIONS = Counter(
    "clockwork_remediations_total",
    "Remediation attempts by kind and result (succeeded, failed, exhausted).",
    ["kind", "result"],
    registry=REGISTRY,
)
RUNNER_DURATION = Histogram(
    "clockwork_runner_duration_seconds",
    "Time a runner took for one run, by runner and action (apply, check, destroy).",
    ["runner", "action"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
    registry=REGISTRY,
)
EVENTS = Counter(
    "clockwork_events_total",
    "Events Clockwork emitted, by type and reason.",
    ["type", "reason"],
    registry=REGISTRY,
)

EDGE_NODES_PROBED = Counter(
    "clockwork_edgenode_probes_total",
    "EdgeNode heartbeat probes, by the phase they led to.",
    ["phase"],
    registry=REGISTRY,
)
EDGE_NODE_UP = Gauge(
    "clockwork_edgenode_online",
    "1 when the EdgeNode is Online, else 0.",
    ["namespace", "name"],
    registry=REGISTRY,
)

EDGE_NODE_PHASE = Gauge(
    "clockwork_edgenode_phase",
    "1 for the EdgeNode's current phase, 0 for the others.",
    ["namespace", "name", "phase"],
    registry=REGISTRY,
)
EDGE_NODE_LAST_SEEN = Gauge(
    "clockwork_edgenode_last_seen_timestamp_seconds",
    "When the EdgeNode last answered a probe (Unix time).",
    ["namespace", "name"],
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "clockwork_reconcile_in_flight",
    "Reconcile passes running now, by kind.",
    ["kind"],
    registry=REGISTRY,
)
EDGE_NODE_PHASES = ("Online", "Stale", "Offline", "Unknown")
ROLLOUT_PHASE = Gauge(
    "clockwork_rollout_phase",
    "A Rollout's phase: 0 Pending, 1 Progressing, 2 Paused, 3 Completed, 4 Failed, 5 RollingBack, 6 RolledBack.",
    ["namespace", "name"],
    registry=REGISTRY,
)
ROLLOUT_BATCHES = Counter(
    "clockwork_rollout_batches_total",
    "Rollout batches by result (healthy, failed).",
    ["result"],
    registry=REGISTRY,
)
TASKS = Counter(
    "clockwork_tasks_total",
    "Tasks finished, by phase (Succeeded, Failed, TimedOut, Cancelled).",
    ["phase"],
    registry=REGISTRY,
)
ROLLOUT_ROLLBACKS = Counter(
    "clockwork_rollout_rollbacks_total",
    "Rollouts rolled back, by result (rolledBack, failed).",
    ["result"],
    registry=REGISTRY,
)


def record_node(namespace: str, name: str, phase: str, last_seen: float | None) -> None:
    """An EdgeNode's heartbeat: its phase gauges and when it was last seen."""
    EDGE_NODES_PROBED.labels(phase).inc()
    EDGE_NODE_UP.labels(namespace, name).set(1 if phase == "Online" else 0)
    for known in EDGE_NODE_PHASES:
        EDGE_NODE_PHASE.labels(namespace, name, known).set(1 if known == phase else 0)
    if last_seen is not None:
        EDGE_NODE_LAST_SEEN.labels(namespace, name).set(last_seen)


_REMEDIATION_RESULTS = {
    "Remediated": "succeeded",
    "RemediationFailed": "failed",
    "RemediationExhausted": "exhausted",
}


def record_pass(
    kind: str,
    namespace: str,
    name: str,
    conditions: dict[str, str],
    events: list[tuple[str, str]],
    seconds: float,
    result: str,
) -> None:
    """One reconcile pass: result, duration, the resource's gauges and its events."""
    RECONCILE_TOTAL.labels(kind, result).inc()
    RECONCILE_DURATION.labels(kind).observe(seconds)
    RESOURCE_READY.labels(kind, namespace, name).set(1 if conditions.get("Ready") == "True" else 0)
    RESOURCE_HEALTHY.labels(kind, namespace, name).set(1 if conditions.get("Healthy") == "True" else 0)
    for type_, reason in events:
        EVENTS.labels(type_, reason).inc()
        if reason in _REMEDIATION_RESULTS:
            REMEDIATIONS.labels(kind, _REMEDIATION_RESULTS[reason]).inc()


def forget_resource(kind: str, namespace: str, name: str) -> None:
    """Drop a deleted resource's series so that dashboards do not show ghosts."""
    for gauge in (RESOURCE_READY, RESOURCE_HEALTHY):
        with contextlib.suppress(KeyError):
            gauge.remove(kind, namespace, name)


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
