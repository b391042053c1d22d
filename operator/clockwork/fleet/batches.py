"""Rollout batches: which nodes go together, in order. Pure."""

from __future__ import annotations

import math


def size(total: int, amount: int | str | None) -> int:
    """A count, or a percentage of ``total`` rounded up; at least 1."""
    if amount is None:
        return 1
    if isinstance(amount, str):
        if amount.endswith("%"):
            return max(1, math.ceil(total * int(amount[:-1]) / 100))
        amount = int(amount)
    return max(1, amount)


def plan(nodes: list[str], amount: int | str | None) -> list[list[str]]:
    """``nodes`` (in the order given) cut into batches of ``size``."""
    step = size(len(nodes), amount)
    return [nodes[i : i + step] for i in range(0, len(nodes), step)]
