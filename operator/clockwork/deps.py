"""Order resources by ``dependsOn``: dependencies first, cycles named. Pure."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence


class DependencyCycle(ValueError):
    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("dependsOn has a cycle: " + " -> ".join(cycle))


def order(refs: Sequence[str], depends: Mapping[str, Sequence[str]]) -> list[str]:
    """``refs`` with every dependency before its dependents, otherwise in the given order.

    Dependencies that are not among ``refs`` are ignored here (the driver decides
    whether they exist elsewhere). Raises :class:`DependencyCycle` naming one cycle.
    """
    position = {ref: i for i, ref in enumerate(refs)}
    edges = {ref: [d for d in depends.get(ref, ()) if d in position and d != ref] for ref in refs}
    for ref in refs:
        if ref in depends.get(ref, ()):
            raise DependencyCycle([ref, ref])
    waiting = {ref: len(set(edges[ref])) for ref in refs}
    dependents: dict[str, list[str]] = {ref: [] for ref in refs}
    for ref, deps in edges.items():
        for dep in set(deps):
            dependents[dep].append(ref)
    ready = [position[ref] for ref in refs if waiting[ref] == 0]
    heapq.heapify(ready)
    found: list[str] = []
    while ready:
        ref = refs[heapq.heappop(ready)]
        found.append(ref)
        for dependent in dependents[ref]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, position[dependent])
    if len(found) < len(refs):
        raise DependencyCycle(_cycle({r: edges[r] for r in refs if waiting[r] > 0}))
    return found


def _cycle(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """One cycle among nodes that all still wait on something (so one exists)."""
    start = next(iter(edges))
    path: list[str] = []
    seen: dict[str, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(d for d in edges[node] if d in edges)
    # path walks from dependents to dependencies; show it that way round: a needs b needs ... a
    return [*path[seen[node] :], node]


def waiting_for(dependencies: Sequence[str], ready: Mapping[str, bool | None]) -> str | None:
    """None when every dependency is Ready; else what is awaited, in words.

    ``ready`` maps a ``Kind/name`` to True (Ready), False (not Ready yet) or None (not found).
    """
    missing = [d for d in dependencies if ready.get(d) is None]
    pending = [d for d in dependencies if ready.get(d) is False]
    parts = []
    if missing:
        parts.append("not found: " + ", ".join(missing))
    if pending:
        parts.append("not Ready yet: " + ", ".join(pending))
    return "waiting for dependencies (" + "; ".join(parts) + ")" if parts else None
