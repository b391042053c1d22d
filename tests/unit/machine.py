"""Driving ``reconcile.step`` as a driver does, for the unit tests of the state machine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clockwork.reconcile import Forget, Inputs, Observations, Step, step

# An answer per observation slot: what the driver would have seen doing that action.
Script = dict[str, Callable[[Any], Any]]


def drive(inp: Inputs, status: Any, script: Script, limit: int = 20) -> tuple[Step, list[Any]]:
    """Run one pass to its end; returns the last step and every action seen on the way.

    Each action's slot is answered by ``script[slot](action)`` (a slot the script has no answer
    for is a KeyError naming it); ``Forget`` ends the pass as it does for a driver.
    """
    obs = Observations()
    seen: list[Any] = []
    for _ in range(limit):
        current = step(inp, status, obs)
        if current.done:
            return current, seen
        for action in current.actions:
            seen.append(action)
            if isinstance(action, Forget):
                return current, seen
            obs.put(action.slot, script[action.slot](action))
    raise AssertionError(f"did not settle in {limit} steps: {[type(a).__name__ for a in seen]}")
