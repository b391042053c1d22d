"""What applying would change on a node, for ``plan``: a resource's operations compared
with what the node has now (the claims read with ``detail``: content, mode and owner,
packages, a container's configuration, a checkout's revision). Pure.

Kind-independent: it reads the operations compile/ produced, so a new kind whose
operations are of these types gets a diff for free. Env values are never shown (a
Workload's unit lines ``Environment=`` and a container's ``-e`` values are hidden;
that one changed is said).
"""

from __future__ import annotations

from clockwork import claims
from clockwork.compile.workload import UNIT_DIR
from clockwork.diff.change import HIDDEN, Action, Change, FieldChange, Sources
from clockwork.diff.containers import container_change
from clockwork.diff.files import attributes_change, checkout_change, file_change, packages_change, user_change
from clockwork.plan import Operation

__all__ = ["HIDDEN", "Change", "FieldChange", "changes"]


def changes(
    node: str,
    operations: list[Operation],
    targets: list[claims.ClaimTarget],
    state: claims.NodeState,
    sources: dict[str, str] | None = None,
) -> list[Change]:
    """One Change per thing the operations touch that the claims read looked at."""
    by_key: dict[tuple[str, str], claims.Facts] = {(t.type, t.key): state.facts(t) for t in targets}
    source = Sources(sources or {})
    found: list[Change] = []
    for op in operations:
        for change in _for_operation(node, op, by_key, source):
            found.append(change)
    return found


def _for_operation(
    node: str, op: Operation, facts: dict[tuple[str, str], claims.Facts], source: Sources
) -> list[Change]:
    a = op.args
    if op.op == "clockwork.put":
        return file_change(node, str(a.get("dest")), a, facts, source, "content")
    if op.op == "clockwork.systemd_unit":
        return file_change(node, f"{UNIT_DIR}/{a.get('unit')}", {**a, "mode": "0644"}, facts, source, "unit")
    if op.op in ("files.directory", "files.file"):
        path = str(a.get("path"))
        kind = "directory" if op.op == "files.directory" else "file"
        f = facts.get((kind, path)) or facts.get(("checkout", path))
        if f is None:
            return []
        if a.get("present") is False:
            action: Action = "remove" if f.get("kind") not in (None, "absent") else "unchanged"
            return [Change(node=node, target=f"{kind} {path}", action=action)]
        return [attributes_change(node, f"{kind} {path}", a, f, source)]
    if op.op in ("git.repo", "clockwork.git_checkout"):
        dest = str(a.get("dest"))
        f = facts.get(("checkout", dest))
        return [] if f is None else [checkout_change(node, dest, a, f, source)]
    if op.op == "server.user":
        f = facts.get(("user", str(a.get("user"))))
        return [] if f is None else [user_change(node, a, f, source)]
    if op.op in ("apt.packages", "server.packages", "dnf.packages", "apk.packages"):
        return packages_change(node, a, facts, source)
    if op.op == "clockwork.container":
        f = facts.get(("container", str(a.get("container"))))
        return [] if f is None else [container_change(node, a, f, source)]
    return []
