"""One pass's state and the helpers every decision uses: conditions, events, nodes, requests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from clockwork import compile as compiler
from clockwork import health, kinds
from clockwork.api.common import NodeStatus, RemediationStatus, ResolvedCommon, ResourceStatus
from clockwork.completion import guard
from clockwork.diff import Change
from clockwork.plan import HostSpec, Operation, Probe, RunRequest, RunResult
from clockwork.reconcile import conditions as cond
from clockwork.reconcile.conditions import APPLIED, COMPLETED, HEALTHY, READY
from clockwork.reconcile.protocol import Action, Check, Event, Inputs, Observations, Step


class PassState:
    """A pass over one resource: the inputs, the status being written, and what was observed."""

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

    def check_after(self, applied: RunResult, resolved: ResolvedCommon, hosts: list[HostSpec], slot: str) -> Check:
        """The check after an apply: where the apply changed something, the resource has its
        startup time (health.startupSeconds) to come up before a failing check counts."""
        startup = health.startup_seconds(kinds.entry(self.inp.info.kind).health, resolved)
        changed = any(h.changed for h in applied.hosts)
        return Check(self.check_request(resolved, hosts), slot=slot, startup_seconds=startup if changed else 0)

    def check_request(self, resolved: ResolvedCommon, hosts: list[HostSpec]) -> RunRequest:
        return RunRequest(
            hosts=hosts,
            probes=health.probes_for(kinds.entry(self.inp.info.kind).health, resolved),
            timeout_seconds=self.inp.run_timeout,
            connect_timeout_seconds=self.inp.connect_timeout,
        )

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
