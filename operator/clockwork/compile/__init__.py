"""Resolved resources -> lists of PyInfra operations (pure, no I/O).

One module per kind, each with ``apply(resolved)``, ``destroy(resolved)`` and
``claims(resolved)``: what the plan touches on a node. Every apply plan starts
with a claim of those things (see :mod:`clockwork.claims`), and every destroy
ends with their release, so that destroy puts back exactly what was there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from clockwork import paths
from clockwork.api.common import ResolvedCommon
from clockwork.claims import ClaimTarget, OnExisting
from clockwork.plan import Operation


@dataclass(frozen=True)
class Context:
    """What compiling needs beyond the resolved spec."""

    # Kind/namespace/name: who owns the claims on the nodes.
    owner: str = ""
    # Wire fields a completer filled: their paths meet the path rules on the node too.
    proposed: frozenset[str] = field(default_factory=frozenset)
    roots: tuple[str, ...] = paths.DEFAULT_ALLOWED_ROOTS
    # Applied before claims existed: what is there is taken over as it is.
    adopt_existing: bool = False
    # Release what the owner claimed before and this plan no longer names (Rollouts).
    exclusive: bool = False


PATH_TYPES = ("file", "directory", "checkout")
PATH_FIELDS = frozenset({"path", "directory", "name", "dest"})


@dataclass(frozen=True)
class Compiler:
    """A kind's plans; each kind's entry in :mod:`clockwork.kinds` has one."""

    apply: Callable[[Any], list[Operation]]
    destroy: Callable[[Any], list[Operation]]
    claims: Callable[[Any], list[ClaimTarget]]


def claim_targets(compiler: Compiler, resolved: ResolvedCommon, ctx: Context) -> list[ClaimTarget]:
    """What the plan touches, each with what to do when it is already there."""
    found = []
    for target in compiler.claims(resolved):
        # The resource's own path (not one Clockwork names itself) meets the path rules on the
        # node when a completer chose it or a part of it.
        guarded = target.type in PATH_TYPES and bool(target.field) and bool(PATH_FIELDS & ctx.proposed)
        found.append(target.model_copy(update={"on_existing": _on_existing(target, resolved, ctx), "guard": guarded}))
    return found


def _on_existing(target: ClaimTarget, resolved: ResolvedCommon, ctx: Context) -> OnExisting:
    if resolved.on_existing is not None:
        return resolved.on_existing
    if ctx.adopt_existing:
        return "adopt"
    if target.type == "container":
        return "refuse"
    if target.type in ("file", "checkout") and target.field and not any(paths.under(target.key, r) for r in ctx.roots):
        return "refuse"  # a system file someone else made: replaced only when the spec says so
    return "backup"


def _claim_args(compiler: Compiler, resolved: ResolvedCommon, ctx: Context) -> dict[str, JsonValue]:
    targets = claim_targets(compiler, resolved, ctx)
    wire: list[JsonValue] = [t.model_dump(mode="json", by_alias=True, exclude_defaults=True) for t in targets]
    args: dict[str, JsonValue] = {"owner": ctx.owner, "targets": wire}
    if any(t.guard for t in targets):
        args["roots"] = list(ctx.roots)
    if ctx.exclusive:
        args["exclusive"] = True
    return args


def compile_apply(compiler: Compiler, resolved: ResolvedCommon, ctx: Context | None = None) -> list[Operation]:
    ctx = ctx or Context()
    claim = Operation(
        id="claim",
        op="clockwork.claim",
        args=_claim_args(compiler, resolved, ctx),
        description="record what is there before changing it",
    )
    return [claim, *compiler.apply(resolved)]


def compile_destroy(compiler: Compiler, resolved: ResolvedCommon, ctx: Context | None = None) -> list[Operation]:
    ctx = ctx or Context()
    args = _claim_args(compiler, resolved, ctx)
    args.pop("roots", None)
    args.pop("exclusive", None)
    release = Operation(
        id="release",
        op="clockwork.release",
        args=args,
        description="remove what Clockwork made and put back what was there",
    )
    return [*compiler.destroy(resolved), release]
