"""The claim and release operations: record what is on a node before a plan changes
it, and put it back on destroy. The decisions are :mod:`clockwork.claims` (pure);
this module only reads the node and yields what those decisions say.

Imported by the worker only (PyInfra, gevent).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from pyinfra.api.exceptions import OperationError
from pyinfra.api.facts import FactBase
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.server import Command

from clockwork import claims


class Refused(OperationError):
    """A claim refused on the node; the worker reports its message as it is."""


def _node() -> str:
    return str(host.data.get("clockwork_name") or host.name)


def _state_dir() -> str | None:
    found = host.data.get("clockwork_state_dir")
    return str(found) if found else None


def _read(targets: list[claims.ClaimTarget], roots: list[str]) -> claims.NodeState:
    output = host.get_fact(Command, command=claims.read_command(targets, _state_dir(), roots))
    return claims.parse(output or "")


def _owned(owner: str) -> list[claims.ClaimTarget]:
    return claims.owned(host.get_fact(Command, command=claims.owned_command(_state_dir())) or "", owner)


@operation()
def claim(
    owner: str, targets: list[dict[str, Any]], roots: list[str] | None = None, exclusive: bool = False
) -> Generator[Any, None, None]:
    """Record (and back up) what each target is now; refuse before anything changed.

    ``exclusive``: what ``owner`` claimed before and this plan no longer names is
    released first (a Rollout going back to a version whose file had another path).
    """
    parsed = [claims.ClaimTarget.model_validate(t) for t in targets]
    state = _read(parsed, roots or [])
    try:
        plan = claims.claim(owner, parsed, state, _node())
    except claims.Refused as exc:
        raise Refused(str(exc)) from None
    commands = plan.commands
    if exclusive:
        wanted = {t.id for t in parsed}
        stale = [t for t in _owned(owner) if t.id not in wanted]
        if stale:
            commands = claims.release(owner, stale, _read(stale, []), _node()).commands + commands
    if commands:
        yield claims.wrap(_state_dir(), commands)


@operation()
def release(owner: str, targets: list[dict[str, Any]] | None = None) -> Generator[Any, None, None]:
    """Remove what the claims of ``owner`` made and restore what they kept (all its claims
    on the node when ``targets`` is not given)."""
    parsed = [claims.ClaimTarget.model_validate(t) for t in targets] if targets is not None else _owned(owner)
    if not parsed:
        return
    state = _read(parsed, [])
    plan = claims.release(owner, parsed, state, _node())
    for note in plan.notes:
        host.noop(note)
    if plan.commands:
        yield claims.wrap(_state_dir(), plan.commands)


class Claims(FactBase):  # type: ignore[type-arg]
    """What ``claim`` would find, for ``plan``: the node's state of each target, as data."""

    def command(
        self,
        owner: str,
        targets: list[dict[str, Any]],
        roots: list[str] | None = None,
        state_dir: str | None = None,
        exclusive: bool = False,
        detail: bool = False,
    ) -> str:
        # Facts are not told their host: the worker passes the host's state folder in.
        parsed = [claims.ClaimTarget.model_validate(t) for t in targets]
        return claims.read_command(parsed, state_dir, roots or [], detail=detail)

    def process(self, output: list[str]) -> dict[str, Any]:
        state = claims.parse("\n".join(output))
        return {
            "stateDir": state.state_dir,
            "roots": state.roots,
            "targets": {key: facts.values for key, facts in state.targets.items()},
        }


OPERATIONS: dict[str, Callable[..., Any]] = {"clockwork.claim": claim, "clockwork.release": release}
