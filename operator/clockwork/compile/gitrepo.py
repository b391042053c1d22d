"""GitRepo -> PyInfra operations. Pure.

Branches and tags go through pyinfra's git.repo (clone, fetch, checkout, pull);
a commit is checked out detached by Clockwork's own idempotent operation.
"""

from __future__ import annotations

from pydantic import JsonValue

from clockwork.api.gitrepo import ResolvedGitRepo, is_commit
from clockwork.claims import ClaimTarget
from clockwork.plan import Operation


def apply(g: ResolvedGitRepo) -> list[Operation]:
    if not g.present:
        return [
            Operation(
                id="gitrepo.absent",
                op="files.directory",
                args={"path": g.dest, "present": False},
                description=f"remove checkout {g.dest}",
            )
        ]
    commit = g.ref is not None and is_commit(g.ref)
    args: dict[str, JsonValue] = {"src": g.url, "dest": g.dest, "pull": g.pull and not commit}
    if g.ref and not commit:
        args["branch"] = g.ref
    if g.depth and not commit:
        args["depth"] = g.depth
    if g.owner:
        args["user"] = g.owner
    ops = [Operation(id="gitrepo", op="git.repo", args=args, description=f"checkout {g.url} at {g.dest}")]
    if commit:
        ops.append(
            Operation(
                id="gitrepo.commit",
                op="clockwork.git_checkout",
                args={"dest": g.dest, "commit": g.ref},
                description=f"{g.dest} at commit {g.ref}",
            )
        )
    return ops


def destroy(g: ResolvedGitRepo) -> list[Operation]:
    return []  # the release: a checkout Clockwork made goes (kept aside with local changes)


def claims(g: ResolvedGitRepo) -> list[ClaimTarget]:
    return [ClaimTarget(type="checkout", key=g.dest, field="spec.dest", present=g.present)]
