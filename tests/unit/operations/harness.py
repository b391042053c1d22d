"""Facts in, commands out: Clockwork's own PyInfra operations run against a table of facts.

The model is pyinfra's own tests/operations/*/*.json: a case gives the operation's arguments
and the facts the host reports, and says which commands the operation yields. No host is
reached: ``FactTable`` answers ``host.get_fact`` from the case, and a fact the case does not
give is an error naming it (so a case says everything the operation looked at).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pyinfra.api.command import PyinfraCommand
from pyinfra.context import ctx_host


def fact_key(cls: type[Any], kwargs: dict[str, Any]) -> str:
    """How a case names a fact: the class, then its arguments in order, e.g. ``File path=/etc/x``."""

    def shown(value: Any) -> str:
        return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)

    args = " ".join(f"{k}={shown(v)}" for k, v in sorted(kwargs.items()) if v is not None and v is not False)
    return f"{cls.__name__} {args}".strip()


class FactTable:
    """Stands in for pyinfra's Host where an operation asks for facts; records what it asked."""

    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts
        self.asked: list[str] = []
        self.name = "case-host"
        self.data: dict[str, Any] = {}
        self.noops: list[str] = []

    def noop(self, description: str) -> None:
        """pyinfra's way for an operation to say it has nothing to do."""
        self.noops.append(description)

    def get_fact(self, cls: type[Any], *args: Any, **kwargs: Any) -> Any:
        assert not args, "facts are asked for with keyword arguments"
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith("_")}
        key = fact_key(cls, kwargs)
        self.asked.append(key)
        if key not in self.facts:
            raise KeyError(f"the case gives no fact {key!r} (it gives {sorted(self.facts)})")
        return self.facts[key]


def text(command: Any) -> str:
    if isinstance(command, PyinfraCommand):
        return str(command.get_raw_value())  # type: ignore[attr-defined]
    return str(command)


def commands(operation: Callable[..., Any], args: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    table = FactTable(facts)
    with ctx_host.use(table):
        return [text(c) for c in operation._inner(**args)]  # type: ignore[attr-defined]


def load(path: Any) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))
