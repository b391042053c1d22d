"""Reading the markers declared on the models' types: guard kinds, tiers, traits.

Pydantic keeps ``Annotated`` extras it does not know in a field's type hints
without acting on them; these helpers find them (through ``Optional``, unions,
lists and maps) for the guard, the completion pipeline, redaction and the docs.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any

from pydantic import BaseModel

from clockwork.api.types import Guarded, Tier, Trait

Marker = Guarded | Tier | Trait


@functools.cache
def hints(model: type[BaseModel]) -> dict[str, Any]:
    """A model's type hints with their extras, resolved once per class (it is slow)."""
    return typing.get_type_hints(model, include_extras=True)


def unwrap(hint: Any) -> tuple[list[Marker], list[Any]]:
    """Markers on a hint, and the concrete types it may hold (Optional/Union opened)."""
    markers: list[Marker] = []
    if typing.get_origin(hint) is typing.Annotated:
        base, *extras = typing.get_args(hint)
        markers += [m for m in extras if isinstance(m, Guarded | Tier | Trait)]
        more, inner = unwrap(base)
        return markers + more, inner
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options: list[Any] = []
        for arg in typing.get_args(hint):
            if arg is type(None):
                continue
            more, sub = unwrap(arg)
            markers += more
            options += sub
        return markers, options
    return markers, [hint]


def wire_name(model: type[BaseModel], name: str) -> str:
    info = model.model_fields[name]
    return info.alias or name


@functools.cache
def tiers(model: type[BaseModel]) -> dict[str, Tier]:
    """Every top-level field's tier by wire name (``never`` where none is declared)."""
    found: dict[str, Tier] = {}
    for name in model.model_fields:
        markers, _ = unwrap(hints(model)[name])
        declared = [m for m in markers if isinstance(m, Tier)]
        found[wire_name(model, name)] = declared[0] if declared else Tier.NEVER
    return found


@functools.cache
def traits(model: type[BaseModel]) -> dict[str, frozenset[Trait]]:
    """Every top-level field's traits by wire name."""
    found: dict[str, frozenset[Trait]] = {}
    for name in model.model_fields:
        markers, _ = unwrap(hints(model)[name])
        found[wire_name(model, name)] = frozenset(m for m in markers if isinstance(m, Trait))
    return found


def completable(model: type[BaseModel]) -> tuple[str, ...]:
    """Fields a completer may fill (tier safe or review), in declaration order."""
    return tuple(name for name, tier in tiers(model).items() if tier is not Tier.NEVER)


def with_trait(model: type[BaseModel], trait: Trait) -> tuple[str, ...]:
    return tuple(name for name, found in traits(model).items() if trait in found)
