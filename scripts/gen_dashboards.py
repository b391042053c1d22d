#!/usr/bin/env python3
"""Grafana dashboards for Clockwork -> charts/clockwork/dashboards/*.json.

Run by `make generate`; tests/unit/test_chart.py fails when the checked-in JSON
drifts from this file, and tests/integration/test_observability.py evaluates every
panel query against a real Prometheus scraping a real operator. Each dashboard has a
fixed uid and a `datasource` variable (no ${DS_...} import placeholders).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "charts" / "clockwork" / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
JOB = 'job=~"$job"'


def panel(title: str, exprs: list[tuple[str, str]], *, kind: str = "timeseries", unit: str = "short",
          w: int = 12, h: int = 8, description: str = "") -> dict[str, Any]:  # fmt: skip
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def dashboard(uid: str, title: str, panels: list[dict[str, Any]], extra_vars: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    x = y = 0
    for i, p in enumerate(panels):
        p["id"] = i + 1
        if x + p["gridPos"]["w"] > 24:
            x, y = 0, y + 8
        p["gridPos"].update(x=x, y=y)
        x += p["gridPos"]["w"]
    variables = [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "options": []},
        {"name": "job", "label": "Job", "type": "query", "datasource": DS, "query": "label_values(clockwork_reconcile_total, job)",
         "definition": "label_values(clockwork_reconcile_total, job)", "current": {}, "includeAll": True,
         "multi": False, "allValue": ".*", "refresh": 2, "hide": 0, "options": []},
        *extra_vars,
    ]  # fmt: skip
    return {
        "uid": uid,
        "title": title,
        "tags": ["clockwork"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "",
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    }


def operator() -> dict[str, Any]:
    return dashboard("clockwork-operator", "Clockwork / Operator", [
        panel("Reconciles by result", [(f"sum by (result) (rate(clockwork_reconcile_total{{{JOB}}}[5m]))", "{{result}}")],
              unit="ops"),
        panel("Reconcile time (p50 / p95 / p99)", [
            (f"histogram_quantile({q}, sum by (le) (rate(clockwork_reconcile_duration_seconds_bucket{{{JOB}}}[5m])))", f"p{int(q * 100)}")
            for q in (0.5, 0.95, 0.99)
        ], unit="s"),
        panel("Reconcile errors by kind", [(f'sum by (kind) (rate(clockwork_reconcile_total{{{JOB}, result="error"}}[5m]))', "{{kind}}")],
              unit="ops"),
        panel("In-flight reconciles", [(f"sum by (kind) (clockwork_reconcile_in_flight{{{JOB}}})", "{{kind}}")]),
        panel("Runner time (p95) by action", [
            (f"histogram_quantile(0.95, sum by (le, action) (rate(clockwork_runner_duration_seconds_bucket{{{JOB}}}[5m])))", "{{action}}")
        ], unit="s"),
        panel("Warning events by reason", [(f'sum by (reason) (increase(clockwork_events_total{{{JOB}, type="Warning"}}[1h]))', "{{reason}}")]),
        panel("CPU (cores)", [(f"rate(process_cpu_seconds_total{{{JOB}}}[5m])", "{{instance}}")], w=8),
        panel("Memory (RSS)", [(f"process_resident_memory_bytes{{{JOB}}}", "{{instance}}")], unit="bytes", w=8),
        panel("Up", [(f"up{{{JOB}}}", "{{instance}}")], kind="stat", w=8),
    ])  # fmt: skip


def resources() -> dict[str, Any]:
    ns = {"name": "namespace", "label": "Namespace", "type": "query", "datasource": DS,
          "query": "label_values(clockwork_resource_ready, namespace)", "definition": "label_values(clockwork_resource_ready, namespace)",
          "current": {}, "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2, "hide": 0, "options": []}  # fmt: skip
    sel = f'{JOB}, namespace=~"$namespace"'
    return dashboard("clockwork-resources", "Clockwork / Resources", [
        panel("Ready by kind", [(f"sum by (kind) (clockwork_resource_ready{{{sel}}})", "{{kind}} ready"),
                                (f"count by (kind) (clockwork_resource_ready{{{sel}}})", "{{kind}} total")], kind="bargauge"),
        panel("Healthy by kind", [(f"sum by (kind) (clockwork_resource_healthy{{{sel}}})", "{{kind}} healthy"),
                                  (f"count by (kind) (clockwork_resource_healthy{{{sel}}})", "{{kind}} total")], kind="bargauge"),
        panel("Not ready", [(f"clockwork_resource_ready{{{sel}}} == 0", "{{kind}} {{namespace}}/{{name}}")], kind="table", w=24),
        panel("Ready by namespace", [(f"sum by (namespace) (clockwork_resource_ready{{{sel}}})", "{{namespace}}")]),
        panel("Health checks by result", [(f"sum by (result) (rate(clockwork_health_checks_total{{{JOB}}}[5m]))", "{{result}}")],
              unit="ops"),
        panel("Remediations by result", [(f"sum by (kind, result) (increase(clockwork_remediations_total{{{JOB}}}[1h]))", "{{kind}} {{result}}")],
              w=24),
    ], [ns])  # fmt: skip


def fleet() -> dict[str, Any]:
    return dashboard("clockwork-fleet", "Clockwork / Fleet", [
        panel("Edge nodes by phase", [(f"sum by (phase) (clockwork_edgenode_phase{{{JOB}}})", "{{phase}}")], kind="stat", w=24),
        panel("Seconds since last seen", [(f"time() - clockwork_edgenode_last_seen_timestamp_seconds{{{JOB}}}", "{{namespace}}/{{name}}")],
              kind="table", unit="s"),
        panel("Online", [(f"clockwork_edgenode_online{{{JOB}}}", "{{namespace}}/{{name}}")], kind="state-timeline"),
        panel("Run time on nodes (p50 / p95)", [
            (f"histogram_quantile({q}, sum by (le) (rate(clockwork_runner_duration_seconds_bucket{{{JOB}}}[5m])))", f"p{int(q * 100)}")
            for q in (0.5, 0.95)
        ], unit="s"),
        panel("Heartbeat probes by phase", [(f"sum by (phase) (rate(clockwork_edgenode_probes_total{{{JOB}}}[5m]))", "{{phase}}")],
              unit="ops"),
        panel("Rollouts (phase: 1 progressing, 3 completed, 4 failed, 6 rolled back)",
              [(f"clockwork_rollout_phase{{{JOB}}}", "{{namespace}}/{{name}}")], kind="table"),
        panel("Rollout batches and rollbacks", [
            (f"sum by (result) (increase(clockwork_rollout_batches_total{{{JOB}}}[1h]))", "batches {{result}}"),
            (f"sum by (result) (increase(clockwork_rollout_rollbacks_total{{{JOB}}}[1h]))", "rollbacks {{result}}"),
        ]),
        panel("Tasks finished by phase", [(f"sum by (phase) (increase(clockwork_tasks_total{{{JOB}}}[1h]))", "{{phase}}")], w=24),
    ])  # fmt: skip


def ai() -> dict[str, Any]:
    return dashboard("clockwork-ai", "Clockwork / Completion", [
        panel("Completions by result", [(f"sum by (completer, result) (rate(clockwork_completion_requests_total{{{JOB}}}[5m]))",
                                         "{{completer}} {{result}}")], unit="ops"),
        panel("Completion latency (p50 / p95)", [
            (f"histogram_quantile({q}, sum by (le) (rate(clockwork_completion_duration_seconds_bucket{{{JOB}}}[5m])))", f"p{int(q * 100)}")
            for q in (0.5, 0.95)
        ], unit="s"),
        panel("Failures (unavailable, rejected)", [
            (f'sum by (result) (increase(clockwork_completion_requests_total{{{JOB}, result=~"unavailable|rejected"}}[1h]))', "{{result}}")
        ]),
        panel("Cache hit ratio", [(
            f"sum(rate(clockwork_completion_cache_hits_total{{{JOB}}}[1h])) / clamp_min(sum(rate(clockwork_completion_cache_hits_total{{{JOB}}}[1h]))"
            f" + sum(rate(clockwork_completion_requests_total{{{JOB}}}[1h])), 1e-9)", "hit ratio")], unit="percentunit"),
        panel("Model requests", [(f"sum by (model) (increase(clockwork_completion_model_requests_total{{{JOB}}}[1h]))", "{{model}}")]),
        panel("Tokens", [(f"sum by (model, direction) (increase(clockwork_completion_tokens_total{{{JOB}}}[1h]))", "{{model}} {{direction}}")]),
    ])  # fmt: skip


DASHBOARDS = {"operator": operator, "resources": resources, "fleet": fleet, "ai": ai}


def render() -> dict[str, str]:
    return {f"{name}.json": json.dumps(build(), indent=2, sort_keys=True) + "\n" for name, build in DASHBOARDS.items()}


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (out / name).write_text(text)
        print(f"wrote {out / name}", file=sys.stderr)
