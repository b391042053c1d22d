"""What one local reconcile of one resource came to, and its verdict in a word."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clockwork.api.common import ResolvedCommon
from clockwork.diff import Change
from clockwork.plan import Operation, RunResult
from clockwork.reconcile import Event, Intent
from clockwork.reconcile.conditions import COMPLETED, HEALTHY, READY


@dataclass
class Outcome:
    ref: str
    intent: Intent
    ok: bool
    status: Any  # ResourceStatus of a deployable kind, or EdgeNodeStatus
    message: str = ""
    resolved: ResolvedCommon | None = None
    operations: list[Operation] = field(default_factory=list)
    apply: RunResult | None = None
    check: RunResult | None = None
    destroy: RunResult | None = None
    forgotten: bool = False
    known: bool = True
    # Completion this run: asked a completer, or answered from the cache.
    completion_asked: bool = False
    completion_cached: bool = False
    events: list[Event] = field(default_factory=list)
    wake_after: float | None = None
    # plan: what applying would do on each node, in words.
    notes: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        runs = [r for r in (self.apply, self.destroy) if r is not None]
        return any(h.changed for r in runs for h in r.hosts)


def verdict(outcome: Outcome) -> tuple[bool, str]:
    status = outcome.status
    if outcome.intent == "destroy":
        if outcome.forgotten:
            return True, "destroyed"
        ready = status.condition(READY)
        return False, ready.message if ready else "destroy failed"
    if outcome.intent == "plan":
        c = status.condition(COMPLETED)
        return (c is not None and c.status == "True"), (c.message if c else "")
    if outcome.intent in ("check", "monitor"):
        c = status.condition(HEALTHY)
        return (c is not None and c.status == "True"), (c.message if c else "not checked")
    ready = status.condition(READY)
    return (ready is not None and ready.status == "True"), (ready.message if ready else "")
