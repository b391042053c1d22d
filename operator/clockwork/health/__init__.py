"""Health checks: what to probe on a target, and how to judge what came back.

A kind's own health is a list of assertions (a File checks fileExists,
filePermissions and fileContent); the user's ``spec.health.assertions`` are added.
Pure on both sides: ``probes_for()`` says what the runner should read (each probe
once, however many assertions need it), ``evaluate()`` turns a host's probe
results into results a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clockwork.api.assertions import Assertion
from clockwork.api.common import AssertionResult, NodeStatus, ResolvedCommon, RunRecord
from clockwork.api.workload import ResolvedWorkload
from clockwork.health import checks, file, kinds
from clockwork.plan import HostResult, Probe

KIND_ASSERTIONS: dict[str, Callable[[Any], list[Assertion]]] = {
    "File": file.assertions,
    "Directory": kinds.directory,
    "User": kinds.user,
    "Package": kinds.package,
    "Container": kinds.container,
    "GitRepo": kinds.gitrepo,
    "Workload": kinds.workload,
}


def assertions_for(kind: str, resource: ResolvedCommon) -> list[Assertion]:
    return KIND_ASSERTIONS[kind](resource) + list(resource.health.assertions)


# Kinds whose own health reads state that is final once the apply returns (files,
# users, packages, checkouts); a container or a service may still be starting.
SETTLED_KINDS = frozenset({"File", "Directory", "User", "Package", "GitRepo"})
SETTLED_ASSERTIONS = frozenset({"fileExists", "filePermissions", "fileSize", "fileContent", "diskUsage"})


def settled_after_apply(kind: str, resource: ResolvedCommon) -> bool:
    """True when the check after an apply may run in the same run, right after the operations.

    That saves a worker and a connection per node on every converge; anything that
    may need a moment to come up (containers, services, the user's http, port,
    process or command assertions) keeps a check of its own.
    """
    return kind in SETTLED_KINDS and all(a.type in SETTLED_ASSERTIONS for a in resource.health.assertions)


def probes_for(kind: str, resource: ResolvedCommon) -> list[Probe]:
    found: dict[str, Probe] = {}
    for check in assertions_for(kind, resource):
        for probe in checks.probes_of(check):
            found.setdefault(probe.id, probe)
    if isinstance(resource, ResolvedWorkload):
        probe = kinds.history_probe(resource)
        found.setdefault(probe.id, probe)
    return list(found.values())


def runs(resource: ResolvedCommon, host: HostResult) -> list[RunRecord]:
    """Run history a check read back (Workloads), newest last."""
    return kinds.runs(resource, host) if isinstance(resource, ResolvedWorkload) else []


def evaluate(kind: str, resource: ResolvedCommon, host: HostResult) -> list[AssertionResult]:
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
