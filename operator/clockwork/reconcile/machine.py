"""The reconcile state machine: spec + status + observations -> actions + next status.

Pure. A driver (the kopf handlers, or the local CLI) calls :func:`step`, performs
the actions it returns (complete, apply, check, destroy), adds what it observed to
:class:`Observations` and calls :func:`step` again with the *same* starting status,
until no action is left. Because every call recomputes from the start, the order
of the driver's loop cannot leave a half-written status behind.

The flow for a spec (DESIGN.md "Reconcile flow"):
complete (cached by spec hash) -> validate -> compile -> apply -> check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from clockwork import compile as compiler
from clockwork import health
from clockwork.api.common import (
    AppliedStatus,
    AssertionResult,
    CompletionStatus,
    DeployableSpec,
    HealthStatus,
    NodeStatus,
    ResolvedCommon,
    ResourceStatus,
    Target,
)
from clockwork.api.registry import KindInfo
from clockwork.completion import guard
from clockwork.completion.base import Completion, completer_id, spec_hash
from clockwork.errors import describe_validation_error
from clockwork.plan import HostSpec, Operation, RunRequest, RunResult, plan_hash
from clockwork.reconcile import conditions as cond
from clockwork.reconcile.conditions import APPLIED, COMPLETED, HEALTHY, READY

Intent = Literal["converge", "plan", "check", "destroy"]

DEFAULT_RUN_TIMEOUT = 600
DEFAULT_CONNECT_TIMEOUT = 10


# --- actions the driver performs ---------------------------------------------------


@dataclass(frozen=True)
class Complete:
    spec: dict[str, Any]
    spec_hash: str


@dataclass(frozen=True)
class Apply:
    request: RunRequest
    plan_hash: str


@dataclass(frozen=True)
class Check:
    request: RunRequest


@dataclass(frozen=True)
class Destroy:
    request: RunRequest


@dataclass(frozen=True)
class Forget:
    """Everything made is gone: drop the state (local) or the finalizer (operator)."""


Action = Complete | Apply | Check | Destroy | Forget


@dataclass
class Observations:
    completion: Completion | None = None
    apply: RunResult | None = None
    check: RunResult | None = None
    destroy: RunResult | None = None


@dataclass(frozen=True)
class Inputs:
    info: KindInfo
    spec: DeployableSpec
    generation: int
    now: datetime
    intent: Intent = "converge"
    # Names of the target hosts, resolved by the driver from spec.target; None when
    # the target cannot be resolved (then ``target_error`` says why).
    targets: list[str] | None = None
    target_error: str | None = None
    # How to reach every host the driver knows about (targets, and nodes in status).
    inventory: dict[str, HostSpec] = field(default_factory=dict)
    # Run the plan even when every node already has its hash (pyinfra is idempotent,
    # and a local `apply` is an explicit request to converge).
    always_apply: bool = False
    run_timeout: int = DEFAULT_RUN_TIMEOUT
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT
    # Identity of the completer the driver will use for this resource; a cached
    # completion by another completer or model is redone.
    completer: str = "defaults"
    policy: guard.GuardPolicy = field(default_factory=guard.GuardPolicy)
    # The clockwork.dev/approve annotation (operator) or the approval in local state.
    approved_hash: str | None = None


@dataclass
class Step:
    actions: list[Action]
    status: ResourceStatus[Any]
    resolved: ResolvedCommon | None = None
    operations: list[Operation] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not self.actions


# --- the machine -------------------------------------------------------------------


def step(inp: Inputs, status: ResourceStatus[Any], obs: Observations) -> Step:
    s = status.model_copy(deep=True)
    s.observed_generation = inp.generation
    s.target = (inp.spec.target or Target(local=True)).summary()
    if inp.intent == "destroy":
        return _destroy(inp, s, obs)
    if inp.intent == "check":
        return _check_deployed(inp, s, obs)

    user_spec = inp.spec.wire()
    current_hash = spec_hash(user_spec)
    if not _completion_cached(inp, s, current_hash):
        if obs.completion is None or obs.completion.spec_hash != current_hash:
            return Step([Complete(user_spec, current_hash)], s)
        if obs.completion.temporary_error:
            _set(inp, s, COMPLETED, "False", "CompletionUnavailable", obs.completion.temporary_error)
            return _finish(inp, s, [])
        _record_completion(inp, s, obs.completion)

    resolved = _resolve_or_explain(inp, s)
    if resolved is None:
        return _finish(inp, s, [])
    operations = compiler.compile_apply(inp.info.kind, resolved)
    if inp.intent == "plan":
        return Step([], s, resolved, operations)
    if resolved.completion.approval == "manual" and not _approved(inp, s):
        hash_ = s.completion.completed_hash if s.completion else "?"
        _set(
            inp,
            s,
            APPLIED,
            "False",
            "AwaitingApproval",
            f"approval is manual: review the completed spec, then set the annotation "
            f"clockwork.dev/approve={hash_} (local mode: clockwork approve)",
        )
        return _finish(inp, s, [], resolved, operations)

    if inp.targets is None:
        _set(inp, s, APPLIED, "False", "TargetNotFound", inp.target_error or "no target")
        return _finish(inp, s, [], resolved, operations)
    hosts = _hosts(inp, inp.targets)
    new_hash = plan_hash(operations)
    undo = compiler.compile_destroy(inp.info.kind, resolved)

    if obs.apply is not None:
        _record_apply(inp, s, obs.apply, new_hash, undo)
    elif inp.always_apply or any(_node(s, h.name).applied_hash != new_hash for h in hosts):
        cleanup = _cleanup_operations(s, undo)
        request = RunRequest(
            hosts=hosts,
            operations=cleanup + operations,
            timeout_seconds=inp.run_timeout,
            connect_timeout_seconds=inp.connect_timeout,
        )
        return Step([Apply(request, new_hash)], s, resolved, operations)
    elif not cond.is_true(s.conditions, APPLIED):
        _set(inp, s, APPLIED, "True", "UpToDate", f"plan {new_hash} is applied on every target")

    healthy_targets = [h for h in hosts if _node(s, h.name).last_result != "failed"]
    if obs.check is None:
        if not healthy_targets:
            return _finish(inp, s, [], resolved, operations)
        return Step([Check(_check_request(inp, resolved, healthy_targets))], s, resolved, operations)
    _record_health(inp, s, resolved, obs.check)
    return _finish(inp, s, [], resolved, operations)


# --- intents beside converge -------------------------------------------------------


def _check_deployed(inp: Inputs, s: ResourceStatus[Any], obs: Observations) -> Step:
    """Check what was applied, without completing or applying anything."""
    if s.completed is None or not s.nodes:
        _set(inp, s, HEALTHY, "Unknown", "NotApplied", "nothing has been applied yet")
        return _finish(inp, s, [])
    resolved = _resolve_or_explain(inp, s)
    if resolved is None:
        return _finish(inp, s, [])
    hosts = _hosts(inp, [n.name for n in s.nodes])
    if obs.check is None:
        return Step([Check(_check_request(inp, resolved, hosts))], s, resolved)
    _record_health(inp, s, resolved, obs.check)
    return _finish(inp, s, [], resolved)


def _destroy(inp: Inputs, s: ResourceStatus[Any], obs: Observations) -> Step:
    undo = s.applied.undo if s.applied else []
    known = [n.name for n in s.nodes if n.name in inp.inventory]
    if not undo or not known:
        return Step([Forget()], s)
    if obs.destroy is None:
        request = RunRequest(
            hosts=_hosts(inp, known),
            operations=undo,
            timeout_seconds=inp.run_timeout,
            connect_timeout_seconds=inp.connect_timeout,
        )
        return Step([Destroy(request)], s, operations=undo)
    if obs.destroy.ok:
        return Step([Forget()], s, operations=undo)
    failed = "; ".join(f"{h.name}: {h.error}" for h in obs.destroy.hosts if h.outcome == "failed")
    _set(
        inp, s, READY, "False", "DestroyFailed", f"destroy failed, will retry: {failed or obs.destroy.error}"
    )
    return Step([], s, operations=undo)


# --- recording observations into status ---------------------------------------------


def _completion_cached(inp: Inputs, s: ResourceStatus[Any], current_hash: str) -> bool:
    """The completion in status belongs to this spec and to the configured completer."""
    return (
        s.completion is not None
        and s.completion.spec_hash == current_hash
        and completer_id(s.completion.completer, s.completion.model) == inp.completer
    )


def _approved(inp: Inputs, s: ResourceStatus[Any]) -> bool:
    return s.completion is not None and inp.approved_hash == s.completion.completed_hash


def _record_completion(inp: Inputs, s: ResourceStatus[Any], completion: Completion) -> None:
    s.completion = CompletionStatus(
        spec_hash=completion.spec_hash,
        completer=completion.completer,
        model=completion.model,
        filled=completion.filled,
        unresolved=[f"{u.field}: {u.reason}" for u in completion.unresolved],
        error=completion.error,
        completed_hash=spec_hash(completion.completed),
        time=inp.now,
    )
    try:
        s.completed = inp.info.spec_model.model_validate(completion.completed, by_alias=True, by_name=False)
    except ValidationError as exc:
        s.completed = None
        problems = describe_validation_error(exc, prefix="spec")
        _set(
            inp,
            s,
            COMPLETED,
            "False",
            "InvalidCompletion",
            f"{completion.completer} proposed values that are not valid: " + "; ".join(problems),
        )


def _resolve_or_explain(inp: Inputs, s: ResourceStatus[Any]) -> ResolvedCommon | None:
    """The resolved resource, or None with Completed=False saying which field and why."""
    if s.completed is None:
        if cond.get(s.conditions, COMPLETED) is None:
            _set(inp, s, COMPLETED, "False", "NotCompleted", "no completed spec")
        return None
    completed = s.completed.wire()
    model = inp.info.resolved_model
    if s.completion is not None and s.completion.error:
        _set(inp, s, COMPLETED, "False", "CompletionRejected", s.completion.error)
        return None
    proposed = [f.field for f in (s.completion.filled if s.completion else []) if f.source != "default"]
    violations = guard.check(inp.info.spec_model, completed, proposed, inp.info.completable, inp.policy)
    if violations:
        completer = s.completion.completer if s.completion else "completer"
        _set(
            inp,
            s,
            COMPLETED,
            "False",
            "GuardRejected",
            f"the {completer} completer proposed values the guard rejects, nothing was applied: "
            + "; ".join(str(v) for v in violations),
        )
        return None
    missing = model.missing_fields(completed)
    if missing:
        reasons = {line.split(":", 1)[0]: line for line in (s.completion.unresolved if s.completion else [])}
        details = [reasons.get(f, f"{f}: not set") for f in missing]
        completer = s.completion.completer if s.completion else "none"
        hint = (
            "set these fields in spec, or configure a completion model (CW_MODEL)"
            if completer in ("defaults", "offline")
            else "set these fields in spec"
        )
        _set(
            inp,
            s,
            COMPLETED,
            "False",
            "MissingValues",
            f"cannot complete {', '.join('spec.' + f for f in missing)} "
            f"(completer: {completer}): {'; '.join(details)}; {hint}",
        )
        return None
    try:
        resolved = model.model_validate(completed, by_alias=True, by_name=False)
    except ValidationError as exc:
        _set(inp, s, COMPLETED, "False", "Invalid", "; ".join(describe_validation_error(exc, "spec")))
        return None
    filled = len(s.completion.filled) if s.completion else 0
    by = s.completion.completer if s.completion else "none"
    _set(inp, s, COMPLETED, "True", "Completed", f"{filled} field(s) filled by {by}")
    return resolved


def _record_apply(
    inp: Inputs,
    s: ResourceStatus[Any],
    result: RunResult,
    new_hash: str,
    undo: list[Operation],
) -> None:
    failed = []
    for host in result.hosts:
        node = _node(s, host.name)
        node.last_result = host.outcome
        node.last_apply_time = inp.now
        node.message = host.error or ("changed" if host.outcome == "changed" else "no changes")
        if host.outcome == "failed":
            failed.append(f"{host.name}: {host.error}")
            node.healthy = None
        else:
            node.applied_hash = new_hash
        _put_node(s, node)
    if any(h.outcome != "failed" for h in result.hosts):
        s.applied = AppliedStatus(plan_hash=new_hash, time=inp.now, undo=undo)
    if failed or result.error:
        detail = "; ".join(failed) or result.error or "apply failed"
        _set(inp, s, APPLIED, "False", "ApplyFailed", detail)
    else:
        changed = sum(1 for h in result.hosts if h.outcome == "changed")
        _set(
            inp,
            s,
            APPLIED,
            "True",
            "Applied",
            f"plan {new_hash} applied on {len(result.hosts)} node(s), {changed} changed",
        )


def _record_health(inp: Inputs, s: ResourceStatus[Any], resolved: ResolvedCommon, result: RunResult) -> None:
    results: list[AssertionResult] = []
    for host in result.hosts:
        host_results = health.evaluate(inp.info.kind, resolved, host)
        node = _node(s, host.name)
        node.healthy = all(r.ok for r in host_results)
        _put_node(s, node)
        results += host_results
    s.health = HealthStatus(last_check_time=inp.now, results=results)
    failures = [r for r in results if not r.ok]
    if failures:
        shown = "; ".join(f"{r.node} {r.name}: {r.message}" for r in failures[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        _set(inp, s, HEALTHY, "False", "AssertionsFailed", shown + more)
    elif results:
        _set(inp, s, HEALTHY, "True", "AssertionsPassed", f"{len(results)} assertion(s) passed")


# --- helpers ---------------------------------------------------------------------------


def _set(inp: Inputs, s: ResourceStatus[Any], type_: str, status: Any, reason: str, message: str) -> None:
    s.conditions = cond.set_condition(
        s.conditions, type_, status, reason, message, generation=inp.generation, now=inp.now
    )


def _finish(
    inp: Inputs,
    s: ResourceStatus[Any],
    actions: list[Action],
    resolved: ResolvedCommon | None = None,
    operations: list[Operation] | None = None,
) -> Step:
    """Derive Ready from the other three conditions."""
    for type_ in (COMPLETED, APPLIED, HEALTHY):
        c = cond.get(s.conditions, type_)
        if c is None or c.status != "True":
            reason = c.reason if c else {APPLIED: "NotApplied", HEALTHY: "NotChecked"}.get(type_, "Pending")
            message = c.message if c else f"{type_} is not known yet"
            _set(inp, s, READY, "False", reason, f"{type_}: {message}")
            break
    else:
        _set(inp, s, READY, "True", "Ready", "completed, applied and healthy")
    return Step(actions, s, resolved, operations or [])


def _node(s: ResourceStatus[Any], name: str) -> NodeStatus:
    found = next((n for n in s.nodes if n.name == name), None)
    return found.model_copy() if found else NodeStatus(name=name)


def _put_node(s: ResourceStatus[Any], node: NodeStatus) -> None:
    s.nodes = sorted([*(n for n in s.nodes if n.name != node.name), node], key=lambda n: n.name)


def _hosts(inp: Inputs, names: list[str]) -> list[HostSpec]:
    return [inp.inventory.get(name, HostSpec(name=name)) for name in names]


def _check_request(inp: Inputs, resolved: ResolvedCommon, hosts: list[HostSpec]) -> RunRequest:
    return RunRequest(
        hosts=hosts,
        probes=health.probes_for(inp.info.kind, resolved),
        timeout_seconds=inp.run_timeout,
        connect_timeout_seconds=inp.connect_timeout,
    )


def _cleanup_operations(s: ResourceStatus[Any], undo: list[Operation]) -> list[Operation]:
    """Undo of the previous apply when the new plan no longer removes the same things.

    A File whose path changed must not leave the old file behind: the old undo
    (remove /old) runs before the new plan (put /new).
    """
    if s.applied is None or not s.applied.undo:
        return []
    if [op.wire() for op in s.applied.undo] == [op.wire() for op in undo]:
        return []
    return [op.model_copy(update={"id": f"cleanup:{op.id}"}) for op in s.applied.undo]
