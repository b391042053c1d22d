"""The Directory kind: A directory on a node, checked once after apply."""

from __future__ import annotations

from clockwork.api.registry import KINDS
from clockwork.compile import Compiler, system
from clockwork.completion import offline
from clockwork.health import KindHealth
from clockwork.health import kinds as checks
from clockwork.kinds.base import Kind

KIND = Kind(
    info=KINDS["Directory"],
    compiler=Compiler(apply=system.directory_apply, destroy=system.directory_destroy, claims=system.directory_claims),
    health=KindHealth(assertions=checks.directory, settled=True),
    offline=offline.directory,
)
