"""The shape of a kind's entry: what each layer below needs to know about it."""

from __future__ import annotations

from dataclasses import dataclass

from clockwork.api.registry import KindInfo
from clockwork.compile import Compiler
from clockwork.completion.offline import Rules
from clockwork.health import KindHealth


@dataclass(frozen=True, kw_only=True)
class Kind:
    """One deployable kind, described once: its API description (names, models, printer
    columns, health interval, defaults), its plans, its health and its offline completion."""

    info: KindInfo
    compiler: Compiler
    health: KindHealth
    offline: Rules

    @property
    def name(self) -> str:
        return self.info.kind
