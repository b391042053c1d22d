"""Conditions by Kubernetes API conventions: keyed by type, and
``lastTransitionTime`` moves only when ``status`` changes."""

from __future__ import annotations

from datetime import datetime

from clockwork.api.base import Condition, ConditionStatus

COMPLETED = "Completed"
APPLIED = "Applied"
HEALTHY = "Healthy"
READY = "Ready"
ORDER = (COMPLETED, APPLIED, HEALTHY, READY)

MAX_MESSAGE = 2000


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """A new list with ``type_`` set; other conditions are kept as they were."""
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    current = next((c for c in conditions if c.type == type_), None)
    since = current.last_transition_time if current and current.status == status else now
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )
    others = [c for c in conditions if c.type != type_]
    return sorted([*others, updated], key=_order)


def _order(condition: Condition) -> tuple[int, str]:
    try:
        return (ORDER.index(condition.type), condition.type)
    except ValueError:
        return (len(ORDER), condition.type)


def is_true(conditions: list[Condition], type_: str) -> bool:
    return any(c.type == type_ and c.status == "True" for c in conditions)


def get(conditions: list[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)
