"""The reconcile state machine: spec + status + observations -> actions + next status.

Pure. A driver (the kopf handlers, or the local CLI) calls :func:`step`, performs
the actions it returns (complete, apply, check, destroy), puts what it observed
into the action's slot of :class:`Observations` and calls :func:`step` again with
the *same* starting status, until no action is left. Because every call recomputes
from the start, the order of the driver's loop cannot leave a half-written status
behind, and the final step's events say what happened in the whole pass.

Intents:

- ``converge``: complete (cached by spec hash) -> guard -> approval -> compile ->
  apply where the plan hash differs -> check;
- ``monitor``: the health loop: check when due; on failure remediate — re-apply,
  and if that does not heal it, re-complete with the diagnostics, apply, verify —
  with bounded attempts and exponential backoff;
- ``check``: check what was applied (local ``assert``);
- ``plan``: complete and compile only;
- ``destroy``: run what the last apply recorded as its undo, then forget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import JsonValue, ValidationError

from clockwork import claims, diff, health, kinds
from clockwork import compile as compiler
from clockwork.api.common import (
    AppliedStatus,
    AssertionResult,
    CompletionStatus,
    DeployableSpec,
    HealthStatus,
    NodeStatus,
    RemediationEntry,
    RemediationStatus,
    ResolvedCommon,
    ResolvedRemediation,
    ResourceStatus,
    Target,
)
from clockwork.api.registry import KindInfo
from clockwork.completion import guard
from clockwork.completion.base import Completion, completer_id, spec_hash
from clockwork.diff import Change
from clockwork.errors import describe_validation_error
from clockwork.plan import FactProbe, HostSpec, Operation, Probe, RunRequest, RunResult, plan_hash
from clockwork.reconcile import conditions as cond
from clockwork.reconcile.conditions import APPLIED, COMPLETED, HEALTHY, READY

Intent = Literal["converge", "plan", "check", "monitor", "destroy"]

DEFAULT_RUN_TIMEOUT = 600
DEFAULT_CONNECT_TIMEOUT = 10
REMEDIATION_HISTORY = 10
MAX_BACKOFF_SECONDS = 3600


# --- actions the driver performs ---------------------------------------------------


@dataclass(frozen=True)
class Complete:
    spec: dict[str, Any]
    spec_hash: str
    slot: str = "completion"
    # Remediation re-completes with what went wrong, so that a completer can do better.
    diagnostics: str | None = None
    attempt: int = 0


@dataclass(frozen=True)
class Apply:
    request: RunRequest
    plan_hash: str
    slot: str = "apply"


@dataclass(frozen=True)
class Check:
    request: RunRequest
    slot: str = "check"


@dataclass(frozen=True)
class Destroy:
    request: RunRequest
    slot: str = "destroy"


@dataclass(frozen=True)
class Forget:
    """Everything made is gone: drop the state (local) or the finalizer (operator)."""


Action = Complete | Apply | Check | Destroy | Forget


@dataclass
class Observations:
    """What the driver saw, one slot per action of a pass."""

    completion: Completion | None = None
    apply: RunResult | None = None
    check: RunResult | None = None
    destroy: RunResult | None = None
    # Remediation: re-apply and re-check; then re-complete, apply and verify.
    reapply: RunResult | None = None
    recheck: RunResult | None = None
    recompletion: Completion | None = None
    fixapply: RunResult | None = None
    fixcheck: RunResult | None = None
    # Removing what was applied from nodes the target no longer names.
    cleanup: RunResult | None = None
    # plan: what is on the target nodes now, for each thing the plan would claim.
    inspect: RunResult | None = None

    def put(self, slot: str, value: Any) -> None:
        if slot not in self.__dataclass_fields__:
            raise KeyError(f"unknown observation slot {slot!r}")
        setattr(self, slot, value)


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event the driver posts (local mode prints it)."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class Inputs:
    info: KindInfo
    spec: DeployableSpec
    generation: int
    now: datetime
    intent: Intent = "converge"
    # Kind/namespace/name: who owns what the plan claims on a node.
    ref: str = ""
    # Release what this owner claimed before and the plan no longer names (a Rollout's template).
    exclusive: bool = False
    # Names of the target hosts, resolved by the driver from spec.target; None when
    # the target cannot be resolved (then ``target_error`` says why).
    targets: list[str] | None = None
    target_error: str | None = None
    # Target nodes not run on this time (Offline), with the reason; retried when back.
    skipped: dict[str, str] = field(default_factory=dict)
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
    # Seconds between health checks when the resource does not say (kind default or
    # CW_CHECK_INTERVAL_DEFAULT); 0 checks only after apply.
    default_interval: int = 0
    # Dependencies (dependsOn) that are not Ready yet, in words; converge waits for them.
    waiting_for: str | None = None


# Seconds between looks at dependencies that are not Ready yet.
DEPENDENCY_RETRY_SECONDS = 10.0


@dataclass
class Step:
    actions: list[Action]
    status: ResourceStatus[Any]
    resolved: ResolvedCommon | None = None
    operations: list[Operation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # When the health loop should look at this resource again (seconds from now).
    wake_after: float | None = None
    # plan: what applying would do on each node, in words, and field by field.
    notes: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not self.actions


def step(inp: Inputs, status: ResourceStatus[Any], obs: Observations) -> Step:
    return _Pass(inp, status, obs).run()


# --- one pass ----------------------------------------------------------------------------


class _Pass:
    def __init__(self, inp: Inputs, status: ResourceStatus[Any], obs: Observations) -> None:
        self.inp = inp
        self.initial = status
        self.s = status.model_copy(deep=True)
        self.obs = obs
        self.events: list[Event] = []
        self.resolved: ResolvedCommon | None = None
        self.operations: list[Operation] = []
        # Review-tier values a completer proposed that no allowlist covers (resolve()).
        self.review: list[guard.ReviewItem] = []
        self.notes: list[str] = []
        self.changes: list[Change] = []

    def run(self) -> Step:
        intent = self.inp.intent
        if intent in ("converge", "plan"):
            # Only a converge of this generation may say it observed it.
            self.s.observed_generation = self.inp.generation
            self.s.target = (self.inp.spec.target or Target(local=True)).summary()
        if intent == "destroy":
            return self.destroy()
        if intent == "check":
            return self.check_deployed()
        if intent == "monitor":
            return self.monitor()
        return self.converge()

    # --- converge ----------------------------------------------------------------------

    def converge(self) -> Step:
        inp, s, obs = self.inp, self.s, self.obs
        user_spec = inp.spec.wire()
        current_hash = spec_hash(user_spec)
        if inp.waiting_for and inp.intent == "converge":
            # Before completion too: what the dependencies were completed to is context.
            self.set(APPLIED, "False", "WaitingForDependencies", inp.waiting_for)
            self.set(READY, "False", "WaitingForDependencies", inp.waiting_for)
            step = self.emit([])
            step.wake_after = DEPENDENCY_RETRY_SECONDS
            return step
        if not self.completion_cached(current_hash):
            if obs.completion is None or obs.completion.spec_hash != current_hash:
                return self.emit([Complete(user_spec, current_hash)])
            if obs.completion.temporary_error:
                self.set(COMPLETED, "False", "CompletionUnavailable", obs.completion.temporary_error)
                return self.finish()
            self.record_completion(obs.completion)
            s.remediation = None  # a new spec gets fresh chances

        resolved = self.resolve()
        if resolved is None:
            return self.finish()
        operations = compiler.compile_apply(kinds.entry(inp.info.kind).compiler, resolved, self.context())
        self.operations = operations
        if inp.intent == "plan":
            self.approved_or_waiting(resolved)  # says what waits for a person
            return self.inspect(resolved)
        if not self.approved_or_waiting(resolved):
            return self.finish()
        if inp.targets is None:
            self.set(APPLIED, "False", "TargetNotFound", inp.target_error or "no target")
            return self.finish()
        hosts = self.hosts(inp.targets)
        new_hash = plan_hash(operations)
        self.mark_skipped()
        departed = self.departed()
        if departed:
            if obs.cleanup is None:
                return self.emit([self.cleanup_action(departed)])
            self.record_cleanup(obs.cleanup, departed)

        settled = health.settled_after_apply(kinds.entry(inp.info.kind).health, resolved)
        if obs.apply is not None:
            self.record_apply(obs.apply, new_hash, resolved)
        elif hosts and (inp.always_apply or any(self.node(h.name).applied_hash != new_hash for h in hosts)):
            cleanup = self.cleanup_operations(resolved)
            # When settled, the check rides along: each node is probed right after its
            # operations succeed, in the same worker and over the same connection.
            probes = health.probes_for(kinds.entry(inp.info.kind).health, resolved) if settled else []
            return self.emit([Apply(self.run_request(hosts, cleanup + operations, probes), new_hash)])
        else:
            self.derive_applied(new_hash)

        reachable = [h for h in hosts if self.node(h.name).last_result != "failed"]
        check = obs.check
        if check is None:
            if not reachable:
                return self.finish()
            if obs.apply is None or not settled:
                return self.emit([Check(self.check_request(resolved, reachable))])
            check = obs.apply.reached()
        self.record_health(resolved, check)
        return self.finish()

    # --- monitor: the health loop and remediation ------------------------------------------

    def monitor(self) -> Step:
        inp, s, obs = self.inp, self.s, self.obs
        if s.completion is None or s.completion.spec_hash != spec_hash(inp.spec.wire()):
            return self.emit([])  # a changed spec is converge's to handle
        resolved = self.resolve()
        if resolved is None or inp.targets is None or (s.applied is None and not self.failing(s)):
            return self.finish()
        if not self.approved_or_waiting(resolved):
            return self.finish()  # nothing unapproved reaches a node, not even one that fell behind
        self.operations = compiler.compile_apply(kinds.entry(inp.info.kind).compiler, resolved, self.context())
        hosts = self.hosts(inp.targets)
        remediation = resolved.remediation
        rem = s.remediation or RemediationStatus()
        current = plan_hash(self.operations)
        self.mark_skipped()
        # Nodes that do not have the plan yet (new to the selector, back from Offline).
        behind = [h for h in hosts if self.node(h.name).applied_hash != current and self.node(h.name).applied_hash]
        behind += [
            h
            for h in hosts
            if not self.node(h.name).applied_hash
            and s.applied is not None
            and self.node(h.name).last_result != "failed"  # a failed apply is remediation's, with backoff
        ]
        if behind or obs.apply is not None:
            if obs.apply is None:
                return self.emit([Apply(self.run_request(behind, self.operations), current)])
            self.record_apply(obs.apply, current, resolved)
        else:
            self.derive_applied(current)

        if obs.check is None:
            if self.check_due(resolved) or self.attempt_due(resolved):
                return self.emit([Check(self.check_request(resolved, hosts))])
            return self.finish()
        was_failing = self.failing(self.initial)
        self.record_health(resolved, obs.check)
        if self.failing(s) is False:
            if rem.attempts:
                s.remediation = RemediationStatus(history=rem.history)  # recovered: attempts reset
            return self.finish()
        if not remediation.enabled:
            return self.finish()
        if rem.attempts >= remediation.max_attempts:
            self.exhausted(rem, announce=not was_failing)
            return self.finish()
        if rem.next_attempt_time is not None and inp.now < rem.next_attempt_time:
            return self.finish()

        attempt = rem.attempts + 1
        limit = remediation.max_attempts
        diagnostics = health.diagnostics(s.health.results if s.health else [], s.nodes)
        self.event("Normal", "RemediationStarted", f"attempt {attempt}/{limit}: {diagnostics[:300]}")
        if obs.reapply is None:
            request = self.run_request(hosts, self.operations)
            return self.emit([Apply(request, plan_hash(self.operations), slot="reapply")])
        self.record_apply(obs.reapply, plan_hash(self.operations), resolved)
        if obs.recheck is None:
            return self.emit([Check(self.check_request(resolved, hosts), slot="recheck")])
        self.record_health(resolved, obs.recheck)
        if not self.failing(s):
            return self.remediated(rem, attempt, "re-applied the plan")

        # Re-apply did not heal it: complete again with what went wrong.
        diagnostics = health.diagnostics(s.health.results if s.health else [], s.nodes)
        if obs.recompletion is None:
            return self.emit([self.recomplete(diagnostics, attempt)])
        if obs.recompletion.temporary_error:
            why = f"re-completion unavailable: {obs.recompletion.temporary_error}"
            return self.attempt_failed(rem, attempt, why, remediation)
        self.record_completion(obs.recompletion, keep_from=self.initial)
        fixed = self.resolve()
        if fixed is None:
            condition = cond.get(s.conditions, COMPLETED)
            why = f"re-completion rejected: {condition.message if condition else 'no completed spec'}"
            return self.attempt_failed(rem, attempt, why, remediation)
        self.operations = compiler.compile_apply(kinds.entry(inp.info.kind).compiler, fixed, self.context())
        if not self.approved_or_waiting(fixed):
            return self.attempt_failed(rem, attempt, "re-completed values wait for approval", remediation)
        new_hash = plan_hash(self.operations)
        if obs.fixapply is None:
            cleanup = self.cleanup_operations(fixed)
            request = self.run_request(hosts, cleanup + self.operations)
            return self.emit([Apply(request, new_hash, slot="fixapply")])
        self.record_apply(obs.fixapply, new_hash, fixed)
        if obs.fixcheck is None:
            return self.emit([Check(self.check_request(fixed, hosts), slot="fixcheck")])
        self.record_health(fixed, obs.fixcheck)
        if not self.failing(s):
            return self.remediated(rem, attempt, "re-completed with the diagnostics and re-applied")
        diagnostics = health.diagnostics(s.health.results if s.health else [], s.nodes)
        return self.attempt_failed(rem, attempt, diagnostics, remediation)

    def context(self) -> compiler.Context:
        """Who owns the plan's claims, which paths a completer chose, and the allowed roots."""
        filled = self.s.completion.filled if self.s.completion else []
        proposed = frozenset(f.field.split(".", 1)[0].split("[", 1)[0] for f in filled if f.source != "default")
        applied = self.initial.applied
        # Applied by a Clockwork from before claims: what it made is there without a record.
        legacy = applied is not None and not any(op.op == "clockwork.release" for op in applied.undo)
        return compiler.Context(
            owner=self.inp.ref,
            proposed=proposed,
            roots=self.inp.policy.allowed_roots,
            adopt_existing=legacy,
            exclusive=self.inp.exclusive,
        )

    def inspect(self, resolved: ResolvedCommon) -> Step:
        """plan: read what is on the target nodes, and say what applying would do there."""
        inp, obs = self.inp, self.obs
        if inp.targets is None:
            self.notes.append(f"cannot look at the target: {inp.target_error or 'no target'}")
            return self.emit([])
        if obs.inspect is None:
            self.notes += [f"{name}: not looked at: {why}" for name, why in sorted(inp.skipped.items())]
            if not inp.targets:
                self.notes.append("no node to look at: the target names none that can be reached")
                return self.emit([])
            args = compiler.compile_apply(kinds.entry(inp.info.kind).compiler, resolved, self.context())[0].args
            probe = FactProbe(id="claims", fact="clockwork.Claims", args={**args, "detail": True})
            request = self.run_request(self.hosts(inp.targets), [], [probe])
            return self.emit([Check(request, slot="inspect")])
        targets = compiler.claim_targets(kinds.entry(inp.info.kind).compiler, resolved, self.context())
        for host in obs.inspect.hosts:
            found = host.probe("claims")
            if found is None or not found.success or not isinstance(found.value, dict):
                why = host.error or (found.error if found else None) or "no answer"
                self.notes.append(f"{host.name}: could not look at the node: {why}")
                continue
            state = claims.node_state(found.value)
            self.notes += claims.preview(inp.ref, targets, state, host.name)
            self.changes += diff.changes(host.name, self.operations, targets, state, self.sources())
        return self.emit([])

    def sources(self) -> dict[str, str]:
        """Who filled each completed field (the rest is the user's)."""
        c = self.s.completion
        return {f.field: f.source + (f" ({f.model})" if f.model else "") for f in (c.filled if c else [])}

    def recomplete(self, diagnostics: str, attempt: int) -> Complete:
        """Ask again for the completer's fields; sensitive ones keep their values."""
        user_spec = self.inp.spec.wire()
        completed = self.s.completed.wire() if self.s.completed else {}
        keep = {
            name: completed[name]
            for name in guard.sensitive_fields(self.inp.info.spec_model)
            if name in completed and name not in user_spec
        }
        return Complete(
            {**user_spec, **keep},
            spec_hash(user_spec),
            slot="recompletion",
            diagnostics=diagnostics,
            attempt=attempt,
        )

    def remediated(self, rem: RemediationStatus, attempt: int, how: str) -> Step:
        entry = RemediationEntry(time=self.inp.now, attempt=attempt, action=how, result="succeeded")
        self.s.remediation = RemediationStatus(history=_bounded([*rem.history, entry]))
        self.event("Normal", "Remediated", f"attempt {attempt}: {how}")
        return self.finish()

    def attempt_failed(self, rem: RemediationStatus, attempt: int, why: str, remediation: ResolvedRemediation) -> Step:
        backoff = remediation.backoff_seconds * 2 ** (attempt - 1)
        entry = RemediationEntry(
            time=self.inp.now, attempt=attempt, action="re-applied and re-completed", result="failed",
            message=why[:2000],
        )  # fmt: skip
        self.s.remediation = RemediationStatus(
            attempts=attempt,
            last_error=why[:2000],
            next_attempt_time=self.inp.now + timedelta(seconds=min(backoff, MAX_BACKOFF_SECONDS)),
            history=_bounded([*rem.history, entry]),
        )
        limit = remediation.max_attempts
        if attempt >= limit:
            self.exhausted(self.s.remediation, announce=True)
        else:
            self.event("Warning", "RemediationFailed", f"attempt {attempt}/{limit} failed: {why[:500]}")
        return self.finish()

    def exhausted(self, rem: RemediationStatus, announce: bool) -> None:
        self.set(
            HEALTHY,
            "False",
            "RemediationExhausted",
            f"gave up after {rem.attempts} remediation attempt(s): {rem.last_error or 'still failing'}",
        )
        if announce:
            self.event("Warning", "RemediationExhausted", f"gave up after {rem.attempts} attempt(s)")

    def check_due(self, resolved: ResolvedCommon) -> bool:
        interval = self.interval(resolved)
        last = self.s.health.last_check_time if self.s.health else None
        return interval > 0 and (last is None or self.inp.now >= last + timedelta(seconds=interval))

    def attempt_due(self, resolved: ResolvedCommon) -> bool:
        rem = self.s.remediation or RemediationStatus()
        return (
            bool(self.failing(self.s))
            and resolved.remediation.enabled
            and rem.attempts < resolved.remediation.max_attempts
            and (rem.next_attempt_time is None or self.inp.now >= rem.next_attempt_time)
        )

    def interval(self, resolved: ResolvedCommon) -> int:
        configured = resolved.health.interval_seconds
        return configured if configured is not None else self.inp.default_interval

    def wake_after(self) -> float | None:
        """Seconds until the health loop has something to do for this resource."""
        resolved = self.resolved
        if resolved is None or (self.s.applied is None and not self.failing(self.s)):
            return None
        now = self.inp.now
        times: list[datetime] = []
        interval = self.interval(resolved)
        if interval > 0:
            last = self.s.health.last_check_time if self.s.health else None
            times.append(last + timedelta(seconds=interval) if last else now)
        rem = self.s.remediation or RemediationStatus()
        if self.failing(self.s) and resolved.remediation.enabled and rem.attempts < resolved.remediation.max_attempts:
            times.append(rem.next_attempt_time or now)
        if not times:
            return None
        return max(0.0, (min(times) - now).total_seconds())

    @staticmethod
    def failing(status: ResourceStatus[Any]) -> bool:
        healthy = cond.get(status.conditions, HEALTHY)
        applied = cond.get(status.conditions, APPLIED)
        return bool(
            (healthy is not None and healthy.status == "False")
            or (applied is not None and applied.status == "False" and applied.reason == "ApplyFailed")
        )

    # --- check and destroy -----------------------------------------------------------------

    def check_deployed(self) -> Step:
        """Check what was applied, without completing or applying anything."""
        s, obs = self.s, self.obs
        if s.completed is None or not s.nodes:
            self.set(HEALTHY, "Unknown", "NotApplied", "nothing has been applied yet")
            return self.finish()
        resolved = self.resolve()
        if resolved is None:
            return self.finish()
        hosts = self.hosts([n.name for n in s.nodes])
        if obs.check is None:
            return self.emit([Check(self.check_request(resolved, hosts))])
        self.record_health(resolved, obs.check)
        return self.finish()

    def destroy(self) -> Step:
        inp, s, obs = self.inp, self.s, self.obs
        undo = s.applied.undo if s.applied else []
        self.operations = undo
        known = [n.name for n in s.nodes if n.name in inp.inventory]
        if not undo or not known:
            return self.emit([Forget()])
        if obs.destroy is None:
            return self.emit([Destroy(self.run_request(self.hosts(known), undo))])
        if obs.destroy.ok:
            for host in obs.destroy.hosts:
                for op in host.operations:
                    for line in op.stdout_tail.splitlines():
                        if line.startswith(claims.NOTE):
                            self.event("Normal", "Kept", f"{host.name}: {line.removeprefix(claims.NOTE)}")
            return self.emit([Forget()])
        failed = "; ".join(f"{h.name}: {h.error}" for h in obs.destroy.hosts if h.outcome == "failed")
        message = f"destroy failed, will retry: {failed or obs.destroy.error}"
        self.set(READY, "False", "DestroyFailed", message)
        self.event("Warning", "DestroyFailed", message)
        return self.emit([])

    # --- recording observations into status --------------------------------------------------

    def completion_cached(self, current_hash: str) -> bool:
        """The completion in status belongs to this spec and to the configured completer."""
        c = self.s.completion
        return (
            c is not None and c.spec_hash == current_hash and completer_id(c.completer, c.model) == self.inp.completer
        )

    def approved_or_waiting(self, resolved: ResolvedCommon) -> bool:
        """Manual approval, and review-tier values a completer proposed, wait for a person.

        An approval names the completed hash. Approved review values stay approved
        while they stay the same, so remediation may still change safe fields.
        """
        manual = resolved.completion.approval == "manual"
        review_hash = guard.review_hash(self.review)
        if not manual and review_hash is None:
            return True
        completion = self.s.completion
        if completion is not None and self.inp.approved_hash == completion.completed_hash:
            completion.approved_review = review_hash or completion.approved_review
            return True
        if not manual and completion is not None and completion.approved_review == review_hash:
            return True
        hash_ = completion.completed_hash if completion else "?"
        how = f"set the annotation clockwork.dev/approve={hash_} (local mode: clockwork approve --hash {hash_})"
        if review_hash is not None:
            values = "; ".join(str(item) for item in self.review)
            completer = completion.completer if completion else "a completer"
            message = (
                f"{len(self.review)} value(s) proposed by {completer} wait for a person's approval: {values}. "
                f"Review them (clockwork plan), then {how}"
            )
        else:
            message = f"approval is manual: review the completed spec, then {how}"
        self.set(APPLIED, "False", "AwaitingApproval", message)
        return False

    def record_completion(self, completion: Completion, keep_from: ResourceStatus[Any] | None = None) -> None:
        s, inp = self.s, self.inp
        filled = list(completion.filled)
        if keep_from is not None and keep_from.completion is not None:
            # Values kept through a re-completion keep who filled them originally.
            kept = set(completion.completed) - {f.field.split(".")[0] for f in filled} - set(inp.spec.wire())
            filled += [f for f in keep_from.completion.filled if f.field.split(".")[0] in kept]
        previous = s.completion
        s.completion = CompletionStatus(
            spec_hash=completion.spec_hash,
            completer=completion.completer,
            model=completion.model,
            filled=filled,
            unresolved=[f"{u.field}: {u.reason}" for u in completion.unresolved],
            error=completion.error,
            completed_hash=spec_hash(completion.completed),
            # A person's approval of review values holds while the values do (checked in approved_or_waiting).
            approved_review=previous.approved_review if previous is not None else None,
            time=inp.now,
        )
        try:
            s.completed = inp.info.spec_model.model_validate(completion.completed, by_alias=True, by_name=False)
        except ValidationError as exc:
            s.completed = None
            problems = describe_validation_error(exc, prefix="spec")
            self.set(
                COMPLETED,
                "False",
                "InvalidCompletion",
                f"{completion.completer} proposed values that are not valid: " + "; ".join(problems),
            )

    def resolve(self) -> ResolvedCommon | None:
        """The resolved resource, or None with Completed=False saying which field and why."""
        s, inp = self.s, self.inp
        if s.completed is None:
            if cond.get(s.conditions, COMPLETED) is None:
                self.set(COMPLETED, "False", "NotCompleted", "no completed spec")
            return None
        completed = s.completed.wire()
        model = inp.info.resolved_model
        if s.completion is not None and s.completion.error:
            self.set(COMPLETED, "False", "CompletionRejected", s.completion.error)
            return None
        proposed = [f.field for f in (s.completion.filled if s.completion else []) if f.source != "default"]
        violations = guard.check(inp.info.spec_model, completed, proposed, inp.policy)
        completer = s.completion.completer if s.completion else "none"
        if violations:
            self.set(
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
            # The reasons say why; what to do is said once, here.
            fields = ", ".join("spec." + f for f in missing)
            hint = (
                f"set {fields}, or configure a completion model (CW_MODEL)"
                if completer in ("defaults", "offline")
                else f"set {fields} yourself"
            )
            self.set(
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
            self.set(COMPLETED, "False", "Invalid", "; ".join(describe_validation_error(exc, "spec")))
            return None
        filled = len(s.completion.filled) if s.completion else 0
        self.set(COMPLETED, "True", "Completed", f"{filled} field(s) filled by {completer}")
        # The offline completer's values come from its catalogue and the resource's own
        # names, never from a model: like catalogue entries, they need no review.
        from_model = [f.field for f in (s.completion.filled if s.completion else []) if f.source == "ai"]
        self.review = guard.review(inp.info.spec_model, completed, from_model, inp.policy)
        if s.completion is not None:
            s.completion.review = [str(item)[:1000] for item in self.review]
            s.completion.review_hash = guard.review_hash(self.review)
        self.resolved = resolved
        return resolved

    def record_apply(self, result: RunResult, new_hash: str, resolved: ResolvedCommon) -> None:
        s, inp = self.s, self.inp
        for host in result.hosts:
            node = self.node(host.name)
            node.last_result = host.outcome
            node.last_apply_time = inp.now
            node.message = host.error or ("changed" if host.outcome == "changed" else "no changes")
            if host.outcome == "failed":
                node.healthy = None
                self.event("Warning", "ApplyFailed", f"{host.name}: {host.error or result.error}")
            else:
                node.applied_hash = new_hash
            self.put_node(node)
        if any(h.outcome != "failed" for h in result.hosts) or (
            s.applied is None and any(h.connected for h in result.hosts)
        ):
            # Also after a first apply that failed half-way: what it claimed and made (a container
            # left Created when its port was taken) is for destroy to remove.
            undo = compiler.compile_destroy(kinds.entry(inp.info.kind).compiler, resolved, self.context())
            s.applied = AppliedStatus(plan_hash=new_hash, time=inp.now, undo=undo)
        changed = sum(1 for h in result.hosts if h.outcome == "changed")
        if changed:
            self.event("Normal", "Applied", f"plan {new_hash} applied, {changed} node(s) changed")
        if result.error and not result.hosts:
            self.set(APPLIED, "False", "ApplyFailed", result.error)
            return
        self.derive_applied(new_hash)

    def derive_applied(self, new_hash: str) -> None:
        """Applied is a fact about every target node, not about the last run alone."""
        targets = self.inp.targets or []
        failed = [n for n in targets if self.node(n).last_result == "failed"]
        behind = [n for n in targets if self.node(n).applied_hash != new_hash and n not in failed]
        skipped = self.inp.skipped
        if failed:
            detail = "; ".join(f"{n}: {self.node(n).message}" for n in failed)
            self.set(APPLIED, "False", "ApplyFailed", detail)
        elif behind:
            self.set(APPLIED, "False", "NotApplied", f"plan {new_hash} is not applied yet on {', '.join(behind)}")
        elif skipped:
            done = len(targets)
            detail = "; ".join(f"{n} skipped: {why}" for n, why in sorted(skipped.items()))
            self.set(APPLIED, "False", "NodesUnavailable", f"applied on {done}/{done + len(skipped)} node(s); {detail}")
        else:
            self.set(APPLIED, "True", "Applied", f"plan {new_hash} applied on {len(targets)} node(s)")

    def mark_skipped(self) -> None:
        for name, why in self.inp.skipped.items():
            node = self.node(name)
            node.last_result = "skipped"
            node.message = why[:4000]
            self.put_node(node)

    def departed(self) -> list[str]:
        """Nodes that got this resource before but that the target no longer names."""
        named = set(self.inp.targets or []) | set(self.inp.skipped)
        return [n.name for n in self.s.nodes if n.name not in named and n.applied_hash]

    def cleanup_action(self, departed: list[str]) -> Action:
        undo = self.s.applied.undo if self.s.applied else []
        reachable = [n for n in departed if n in self.inp.inventory]
        request = self.run_request(
            self.hosts(reachable), [o.model_copy(update={"id": f"cleanup:{o.id}"}) for o in undo]
        )
        return Apply(request, "", slot="cleanup")

    def record_cleanup(self, result: RunResult, departed: list[str]) -> None:
        outcomes = {h.name: h for h in result.hosts}
        for name in departed:
            host = outcomes.get(name)
            if host is None:
                self.event("Warning", "Orphaned", f"{name} is gone; what was applied there was not removed")
            elif host.outcome == "failed":
                node = self.node(name)
                node.message = f"no longer targeted, but removing failed: {host.error}"
                self.put_node(node)
                self.event("Warning", "CleanupFailed", node.message)
                continue
            self.s.nodes = [n for n in self.s.nodes if n.name != name]

    def record_health(self, resolved: ResolvedCommon, result: RunResult) -> None:
        s = self.s
        results: list[AssertionResult] = []
        for host in result.hosts:
            host_results = health.evaluate(kinds.entry(self.inp.info.kind).health, resolved, host)
            node = self.node(host.name)
            node.healthy = all(r.ok for r in host_results)
            self.put_node(node)
            results += host_results
        s.health = HealthStatus(last_check_time=self.inp.now, results=results)
        recorded = [
            r for host in result.hosts for r in health.runs(kinds.entry(self.inp.info.kind).health, resolved, host)
        ]
        if recorded:
            checked = {host.name for host in result.hosts}
            kept = [r for r in s.runs if r.node not in checked]
            s.runs = (kept + recorded)[-200:]
        failures = [r for r in results if not r.ok]
        if failures:
            shown = "; ".join(f"{r.node} {r.name}: {r.message}" for r in failures[:5])
            more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
            self.set(HEALTHY, "False", "AssertionsFailed", shown + more)
        elif results:
            self.set(HEALTHY, "True", "AssertionsPassed", f"{len(results)} assertion(s) passed")

    # --- helpers -------------------------------------------------------------------------------

    def set(self, type_: str, status: Any, reason: str, message: str) -> None:
        self.s.conditions = cond.set_condition(
            self.s.conditions,
            type_,
            status,
            reason,
            message,
            generation=self.inp.generation,
            now=self.inp.now,
        )

    def event(self, type_: Literal["Normal", "Warning"], reason: str, message: str) -> None:
        event = Event(type_, reason, message[:1000])
        if event not in self.events:
            self.events.append(event)

    def emit(self, actions: list[Action]) -> Step:
        return Step(
            actions,
            self.s,
            self.resolved,
            self.operations,
            self.events + (self.transition_events() if not actions else []),
            self.wake_after() if not actions else None,
            list(self.notes),
            list(self.changes),
        )

    def finish(self) -> Step:
        """Derive Ready from the other three conditions."""
        for type_ in (COMPLETED, APPLIED, HEALTHY):
            c = cond.get(self.s.conditions, type_)
            if c is None or c.status != "True":
                reason = c.reason if c else {APPLIED: "NotApplied", HEALTHY: "NotChecked"}.get(type_, "Pending")
                message = c.message if c else f"{type_} is not known yet"
                self.set(READY, "False", reason, f"{type_}: {message}")
                break
        else:
            self.set(READY, "True", "Ready", "completed, applied and healthy")
        return self.emit([])

    def transition_events(self) -> list[Event]:
        """Events for conditions that changed status or reason in this pass."""
        found: list[Event] = []
        for c in self.s.conditions:
            before = cond.get(self.initial.conditions, c.type)
            if before is not None and (before.status, before.reason) == (c.status, c.reason):
                continue
            if c.type == COMPLETED and c.status == "False":
                found.append(Event("Warning", c.reason, c.message[:1000]))
            elif c.type == APPLIED and c.reason in ("AwaitingApproval", "TargetNotFound", "WaitingForDependencies"):
                kind: Literal["Normal", "Warning"] = "Warning" if c.reason == "TargetNotFound" else "Normal"
                found.append(Event(kind, c.reason, c.message[:1000]))
            elif c.type == HEALTHY and c.status == "False" and c.reason == "AssertionsFailed":
                found.append(Event("Warning", "Unhealthy", c.message[:1000]))
            elif c.type == HEALTHY and c.status == "True" and before is not None:
                found.append(Event("Normal", "Healthy", c.message[:1000]))
            elif c.type == READY and c.status == "True":
                found.append(Event("Normal", "Ready", c.message[:1000]))
        return [e for e in found if e not in self.events]

    def node(self, name: str) -> NodeStatus:
        found = next((n for n in self.s.nodes if n.name == name), None)
        return found.model_copy() if found else NodeStatus(name=name)

    def put_node(self, node: NodeStatus) -> None:
        others = [n for n in self.s.nodes if n.name != node.name]
        self.s.nodes = sorted([*others, node], key=lambda n: n.name)

    def hosts(self, names: list[str]) -> list[HostSpec]:
        return [self.inp.inventory.get(name, HostSpec(name=name)) for name in names]

    def run_request(
        self, hosts: list[HostSpec], operations: list[Operation], probes: list[Probe] | None = None
    ) -> RunRequest:
        return RunRequest(
            hosts=hosts,
            operations=operations,
            probes=probes or [],
            timeout_seconds=self.inp.run_timeout,
            connect_timeout_seconds=self.inp.connect_timeout,
        )

    def check_request(self, resolved: ResolvedCommon, hosts: list[HostSpec]) -> RunRequest:
        return RunRequest(
            hosts=hosts,
            probes=health.probes_for(kinds.entry(self.inp.info.kind).health, resolved),
            timeout_seconds=self.inp.run_timeout,
            connect_timeout_seconds=self.inp.connect_timeout,
        )

    def cleanup_operations(self, resolved: ResolvedCommon) -> list[Operation]:
        """Undo of the previous apply when the new plan no longer removes the same things.

        A File whose path changed must not leave the old file behind: the old undo
        (remove /old) runs before the new plan (put /new).
        """
        applied = self.s.applied
        if applied is None or not applied.undo:
            return []
        if not any(op.op == "clockwork.release" for op in applied.undo):
            # Recorded by a Clockwork from before claims: its undo removes without asking what
            # was there. Left alone (at worst an old file stays); the next destroy releases.
            return []
        undo = compiler.compile_destroy(kinds.entry(self.inp.info.kind).compiler, resolved, self.context())
        if [op.wire() for op in applied.undo] == [op.wire() for op in undo]:
            return []
        # Only what the new plan no longer claims is released (the rest stays as it is).
        keep = {
            t.key for t in compiler.claim_targets(kinds.entry(self.inp.info.kind).compiler, resolved, self.context())
        }
        stale: list[Operation] = []
        for op in applied.undo:
            if op.op == "clockwork.release":
                listed = op.args.get("targets")
                targets: list[JsonValue] = [
                    t
                    for t in (listed if isinstance(listed, list) else [])
                    if isinstance(t, dict) and t.get("key") not in keep
                ]
                if not targets:
                    continue
                op = op.model_copy(update={"args": {**op.args, "targets": targets}})
            stale.append(op)
        return [op.model_copy(update={"id": f"cleanup:{op.id}"}) for op in stale]


def _bounded(history: list[RemediationEntry]) -> list[RemediationEntry]:
    return history[-REMEDIATION_HISTORY:]
