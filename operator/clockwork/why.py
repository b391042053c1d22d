"""``clockwork why``: the chain of reasons a resource is not where it should be. Pure.

Reads resources as the API (or the local state) holds them — ``spec`` and ``status`` in
wire form — through a lookup, so that local mode and the cluster explain alike. It
follows what the conditions say: a dependency that is not Ready is explained in turn
(one level deeper), approval names the values it waits for and how to give it, a
target that cannot be found names its selector, exhausted remediation gives the last
diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clockwork.api.registry import ALL_KINDS

Lookup = Callable[[str, str, str], dict[str, Any] | None]  # (kind, namespace, name) -> object
MAX_DEPTH = 8


@dataclass(frozen=True)
class Reason:
    depth: int
    ref: str
    text: str
    details: tuple[str, ...] = ()


@dataclass
class _Explain:
    lookup: Lookup
    approve_hint: Callable[[str, str], str]
    reasons: list[Reason] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def say(self, depth: int, ref: str, text: str, *details: str) -> None:
        self.reasons.append(Reason(depth, ref, text, tuple(d for d in details if d)))

    def resource(self, kind: str, namespace: str, name: str, depth: int) -> bool:
        """Explains one resource; True when it is where it should be."""
        ref = f"{kind}/{namespace}/{name}"
        if ref in self.seen or depth > MAX_DEPTH:
            self.say(depth, ref, "already explained above")
            return False
        self.seen.add(ref)
        body = self.lookup(kind, namespace, name)
        if body is None:
            self.say(depth, ref, "does not exist: it was never applied (or was deleted)")
            return False
        status = body.get("status") or {}
        info = ALL_KINDS.get(kind)
        phases = info.ready_phases if info is not None else None
        if phases is not None:
            return self.phased(phases, ref, status, depth)
        conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
        ready = conditions.get("Ready")
        if ready and ready.get("status") == "True":
            self.say(depth, ref, "is Ready")
            return True
        if not conditions:
            self.say(depth, ref, "has not been reconciled yet (no conditions in its status)")
            return False
        said = len(self.reasons)
        self.completed(ref, conditions.get("Completed"), status, depth)
        self.applied(ref, conditions.get("Applied"), body, status, namespace, depth)
        self.healthy(ref, conditions.get("Healthy"), body, status, depth)
        if len(self.reasons) == said:
            self.say(depth, ref, f"is not Ready: {_message(ready)}")
        return False

    def phased(self, ok_phases: tuple[str, ...], ref: str, status: dict[str, Any], depth: int) -> bool:
        """A kind whose phase says where it is (a fleet kind): in one of ``ok_phases``, or not."""
        phase = status.get("phase") or "unknown"
        message = status.get("message") or ""
        if phase in ok_phases:
            self.say(depth, ref, f"is {phase}" + (f": {message}" if message else ""))
            return True
        want = " or ".join(ok_phases) or "done"
        self.say(depth, ref, f"is {phase}, not {want}" + (f": {message}" if message else ""))
        return False

    def completed(self, ref: str, c: dict[str, Any] | None, status: dict[str, Any], depth: int) -> None:
        if c is None or c.get("status") == "True":
            return
        completion = status.get("completion") or {}
        unresolved = completion.get("unresolved") or []
        self.say(depth, ref, f"is not completed ({c.get('reason')}): {_message(c)}",
                 f"fields no completer could fill: {', '.join(unresolved)}" if unresolved else "")  # fmt: skip

    def applied(
        self, ref: str, c: dict[str, Any] | None, body: dict[str, Any], status: dict[str, Any], namespace: str,
        depth: int,
    ) -> None:  # fmt: skip
        if c is None or c.get("status") == "True":
            return
        reason = c.get("reason")
        if reason == "AwaitingApproval":
            completion = status.get("completion") or {}
            review = [str(line) for line in completion.get("review") or []]
            what = "the values a completer proposed:" if review else "a person (spec.completion.approval: manual)"
            hint = self.approve_hint(ref, str(completion.get("completedHash") or "?"))
            self.say(depth, ref, f"waits for approval of {what}", *review, hint)
            return
        if reason == "WaitingForDependencies":
            self.say(depth, ref, f"waits for its dependencies: {_message(c)}")
            for dep in (body.get("spec") or {}).get("dependsOn") or []:
                if isinstance(dep, dict) and dep.get("kind") and dep.get("name"):
                    self.resource(str(dep["kind"]), namespace, str(dep["name"]), depth + 1)
            return
        if reason == "TargetNotFound":
            self.say(depth, ref, f"has no target: {_message(c)}",
                     "an EdgeNode with those labels must exist (or the selector change)")  # fmt: skip
            return
        failed = [f"{n.get('name')}: {n.get('error') or n.get('phase')}" for n in status.get("nodes") or []
                  if isinstance(n, dict) and n.get("error")]  # fmt: skip
        self.say(depth, ref, f"is not applied ({reason}): {_message(c)}", *failed)

    def healthy(
        self, ref: str, c: dict[str, Any] | None, body: dict[str, Any], status: dict[str, Any], depth: int
    ) -> None:
        if c is None or c.get("status") != "False":
            return
        remediation = status.get("remediation") or {}
        completed = status.get("completed") or body.get("spec") or {}
        most = ((completed.get("remediation") or {}).get("maxAttempts")) or 0
        attempts = int(remediation.get("attempts") or 0)
        if most and attempts >= most:
            tries = f"remediation gave up after {attempts} attempt(s)"
        else:
            tries = f"remediation attempt {attempts} of {most or '?'}" if attempts else "not remediated yet"
        last = remediation.get("lastError")
        self.say(depth, ref, f"is unhealthy ({c.get('reason')}): {_message(c)}", tries,
                 f"last diagnostics: {last}" if last and last != c.get("message") else "")  # fmt: skip


def _message(c: dict[str, Any] | None) -> str:
    return str((c or {}).get("message") or (c or {}).get("reason") or "no reason given")


@dataclass(frozen=True)
class Explanation:
    ok: bool  # where it should be: Ready, or a fleet kind in one of its good phases
    reasons: list[Reason]


class Unanswered(Exception):
    """The lookup could not be answered (the cluster cannot be reached)."""


def explain(
    kind: str, namespace: str, name: str, lookup: Lookup, approve_hint: Callable[[str, str], str]
) -> Explanation:
    """Why ``kind/namespace/name`` is not where it should be, first reason first; a
    dependency's reasons follow one level deeper."""
    run = _Explain(lookup, approve_hint)
    ok = run.resource(kind, namespace, name, 0)
    return Explanation(ok, run.reasons)
