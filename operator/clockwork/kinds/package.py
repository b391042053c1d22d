"""The Package kind: System packages, checked once after apply."""

from __future__ import annotations

from clockwork.api.registry import KINDS
from clockwork.compile import Compiler, system
from clockwork.completion import offline
from clockwork.health import KindHealth
from clockwork.health import kinds as checks
from clockwork.kinds.base import Kind

KIND = Kind(
    info=KINDS["Package"],
    compiler=Compiler(apply=system.package_apply, destroy=system.package_destroy, claims=system.package_claims),
    health=KindHealth(assertions=checks.package, settled=True),
    offline=offline.package,
)
