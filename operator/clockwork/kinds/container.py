"""The Container kind: kept running and checked periodically (it may still be starting after apply)."""

from __future__ import annotations

from clockwork.api.registry import KINDS
from clockwork.compile import Compiler
from clockwork.compile import container as plans
from clockwork.completion import offline
from clockwork.health import KindHealth
from clockwork.health import kinds as checks
from clockwork.kinds.base import Kind

KIND = Kind(
    info=KINDS["Container"],
    compiler=Compiler(apply=plans.apply, destroy=plans.destroy, claims=plans.claims),
    health=KindHealth(startup_seconds=30, assertions=checks.container),
    offline=offline.container,
)
