"""Health checks: what to probe on a target, and how to judge what came back.

Pure on both sides: ``probes()`` says what the runner should read, ``evaluate()``
turns a host's probe results into assertion results a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clockwork.api.common import AssertionResult, NodeStatus, ResolvedCommon
from clockwork.health import assertions, file
from clockwork.plan import HostResult, Probe


@dataclass(frozen=True)
class KindHealth:
    probes: Callable[[Any], list[Probe]]
    evaluate: Callable[[Any, HostResult], list[AssertionResult]]


KIND_HEALTH: dict[str, KindHealth] = {
    "File": KindHealth(probes=file.probes, evaluate=file.evaluate),
}


def probes_for(kind: str, resource: ResolvedCommon) -> list[Probe]:
    return KIND_HEALTH[kind].probes(resource) + assertions.probes(resource)


def evaluate(kind: str, resource: ResolvedCommon, host: HostResult) -> list[AssertionResult]:
    if not host.connected:
        return [AssertionResult(name="reachable", node=host.name, ok=False, message=host.error or "not reachable")]
    return KIND_HEALTH[kind].evaluate(resource, host) + assertions.evaluate(resource, host)


def diagnostics(results: list[AssertionResult], nodes: list[NodeStatus]) -> str:
    """What went wrong, in words, for remediation (and for a completer to fix)."""
    lines = [f"{r.node}: {r.name} failed: {r.message}" for r in results if not r.ok]
    lines += [f"{n.name}: last apply failed: {n.message}" for n in nodes if n.last_result == "failed"]
    return "; ".join(lines)[:4000] or "no failure details"
