"""Health checks: what to probe on a target, and how to judge what came back.

A kind's own health is a list of assertions (a File checks fileExists,
filePermissions and fileContent); the user's ``spec.health.assertions`` are added.
Pure on both sides: ``probes_for()`` says what the runner should read (each probe
once, however many assertions need it), ``evaluate()`` turns a host's probe
results into results a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clockwork.api.assertions import Assertion
from clockwork.api.common import AssertionResult, NodeStatus, ResolvedCommon, RunRecord
from clockwork.health import checks
from clockwork.plan import HostResult, Probe

SETTLED_ASSERTIONS = frozenset({"fileExists", "filePermissions", "fileSize", "fileContent", "diskUsage"})


def _no_probes(resource: Any) -> list[Probe]:
    return []


def _no_runs(resource: Any, host: HostResult) -> list[RunRecord]:
    return []


@dataclass(frozen=True, kw_only=True)
class KindHealth:
    """How a kind's own health is checked; each kind's entry in :mod:`clockwork.kinds` has one."""

    assertions: Callable[[Any], list[Assertion]]
    # The kind's own assertions read state that is final once the apply returns (files,
    # users, packages, checkouts); a container or a service may still be starting.
    settled: bool = False
    # Seconds a fresh apply has to pass the checks when the resource does not say (startupSeconds).
    startup_seconds: int = 0
    # Probes beside those of the assertions, and the run history they read back (Workloads).
    extra_probes: Callable[[Any], list[Probe]] = _no_probes
    runs: Callable[[Any, HostResult], list[RunRecord]] = _no_runs


def assertions_for(kind: KindHealth, resource: ResolvedCommon) -> list[Assertion]:
    return kind.assertions(resource) + list(resource.health.assertions)


def settled_after_apply(kind: KindHealth, resource: ResolvedCommon) -> bool:
    """True when the check after an apply may run in the same run, right after the operations.

    That saves a worker and a connection per node on every converge; anything that
    may need a moment to come up (containers, services, the user's http, port,
    process or command assertions) keeps a check of its own.
    """
    return kind.settled and all(a.type in SETTLED_ASSERTIONS for a in resource.health.assertions)


def startup_seconds(kind: KindHealth, resource: ResolvedCommon) -> int:
    configured = resource.health.startup_seconds
    return configured if configured is not None else kind.startup_seconds


def probes_for(kind: KindHealth, resource: ResolvedCommon) -> list[Probe]:
    found: dict[str, Probe] = {}
    for check in assertions_for(kind, resource):
        for probe in checks.probes_of(check):
            found.setdefault(probe.id, probe)
    for probe in kind.extra_probes(resource):
        found.setdefault(probe.id, probe)
    return list(found.values())


def runs(kind: KindHealth, resource: ResolvedCommon, host: HostResult) -> list[RunRecord]:
    """Run history a check read back (Workloads), newest last."""
    return kind.runs(resource, host)


def evaluate(kind: KindHealth, resource: ResolvedCommon, host: HostResult) -> list[AssertionResult]:
    if not host.connected:
        return [AssertionResult(name="reachable", node=host.name, ok=False, message=host.error or "not reachable")]
    results = []
    for check in assertions_for(kind, resource):
        verdict = checks.judge(check, host)
        results.append(AssertionResult(name=checks.default_name(check), node=host.name, ok=verdict.ok,
                                       message=verdict.message[:4000]))  # fmt: skip
    return results


def diagnostics(results: list[AssertionResult], nodes: list[NodeStatus]) -> str:
    """What went wrong, in words, for remediation (and for a completer to fix)."""
    lines = [f"{r.node}: {r.name} failed: {r.message}" for r in results if not r.ok]
    lines += [f"{n.name}: last apply failed: {n.message}" for n in nodes if n.last_result == "failed"]
    return "; ".join(lines)[:4000] or "no failure details"
