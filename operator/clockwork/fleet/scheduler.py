"""Which node runs a Task: capable, Online, with a free slot, least loaded first. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clockwork.api.edgenode import EdgeNode, EdgeNodeStatus
from clockwork.api.task import TaskSpec


@dataclass(frozen=True)
class Choice:
    node: str | None
    reason: str = ""
    # No node now, but a capable Online one will have a free slot when a run ends.
    busy: bool = False


def choose(
    task: TaskSpec,
    namespace: str,
    nodes: list[tuple[EdgeNode, EdgeNodeStatus | None]],
    running: Mapping[str, int],
) -> Choice:
    """A node for ``task``, or None and why none fits (for status.message)."""
    wanted = sorted(set(task.required_capabilities or []))
    here = [(n, s) for n, s in nodes if n.metadata.namespace == namespace]
    if task.node_name:
        here = [(n, s) for n, s in here if n.metadata.name == task.node_name]
        if not here:
            return Choice(None, f"EdgeNode {task.node_name!r} not found in namespace {namespace!r}")
    capable = [(n, s) for n, s in here if set(wanted) <= set(n.spec.capabilities or [])]
    if not capable:
        needs = ", ".join(wanted) or "nothing"
        return Choice(None, f"no EdgeNode has every required capability ({needs})")
    online = [(n, s) for n, s in capable if s is not None and s.phase == "Online"]
    if not online:
        names = ", ".join(sorted(n.metadata.name for n, _ in capable))
        return Choice(None, f"no capable EdgeNode is Online ({names})")
    free = [(n, s) for n, s in online if running.get(n.metadata.name, 0) < n.spec.effective_max_runs]
    if not free:
        busy = ", ".join(f"{n.metadata.name} {running.get(n.metadata.name, 0)}/{n.spec.effective_max_runs}"
                         for n, _ in online)  # fmt: skip
        return Choice(None, f"every capable node is busy ({busy})", busy=True)
    node, _ = min(
        free, key=lambda p: (running.get(p[0].metadata.name, 0) / p[0].spec.effective_max_runs, p[0].metadata.name)
    )
    return Choice(node.metadata.name)
