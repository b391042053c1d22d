"""The Workload kind: systemd units whose checks also read back the run history."""

from __future__ import annotations

from clockwork.api.registry import KINDS
from clockwork.api.workload import ResolvedWorkload
from clockwork.compile import Compiler
from clockwork.compile import workload as plans
from clockwork.completion import offline
from clockwork.health import KindHealth
from clockwork.health import kinds as checks
from clockwork.kinds.base import Kind
from clockwork.plan import Probe


def _history(workload: ResolvedWorkload) -> list[Probe]:
    return [checks.history_probe(workload)]


KIND = Kind(
    info=KINDS["Workload"],
    compiler=Compiler(apply=plans.apply, destroy=plans.destroy, claims=plans.claims),
    health=KindHealth(startup_seconds=30, assertions=checks.workload, extra_probes=_history, runs=checks.runs),
    offline=offline.workload,
)
