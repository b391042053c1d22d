"""operator.peering: kopf's pause rule as the health loop reads it from the peering object."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clockwork.operator.peering import PeeringGate, working

NOW = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


def peer(priority: int, seconds_ago: float, lifetime: int = 10) -> dict[str, Any]:
    return {"priority": priority, "lifetime": lifetime, "lastseen": (NOW - timedelta(seconds=seconds_ago)).isoformat()}


def test_a_live_peer_of_higher_or_the_same_priority_pauses() -> None:
    assert working({}, "me", 5, NOW)
    assert working({"me": peer(5, 0), "low": peer(4, 1)}, "me", 5, NOW)
    assert not working({"me": peer(5, 0), "high": peer(6, 1)}, "me", 5, NOW)
    assert not working({"twin": peer(5, 1)}, "me", 5, NOW)  # kopf: the same priority pauses both


def test_a_dead_peer_does_not() -> None:
    assert working({"high": peer(6, 11)}, "me", 5, NOW)  # its lifetime ran out
    assert not working({"high": peer(6, 9)}, "me", 5, NOW)
    assert not working({"high": {"priority": 6, "lastseen": (NOW - timedelta(seconds=59)).isoformat()}}, "me", 5, NOW)


async def test_the_gate_reads_at_most_once_a_second_and_waits_without_the_object() -> None:
    reads: list[int] = []
    body: dict[str, Any] | None = None

    async def read() -> dict[str, Any] | None:
        reads.append(1)
        return body

    gate = PeeringGate(read, "me", 5)
    assert not await gate.working()  # no peering object: kopf waits for it, so do we
    body = {"status": {}}
    assert not await gate.working() and len(reads) == 1  # the cached answer
    gate._until = 0.0
    assert await gate.working() and len(reads) == 2
