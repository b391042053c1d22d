"""The User kind: A local user account, checked once after apply."""

from __future__ import annotations

from clockwork.api.registry import KINDS
from clockwork.compile import Compiler, system
from clockwork.completion import offline
from clockwork.health import KindHealth
from clockwork.health import kinds as checks
from clockwork.kinds.base import Kind

KIND = Kind(
    info=KINDS["User"],
    compiler=Compiler(apply=system.user_apply, destroy=system.user_destroy, claims=system.user_claims),
    health=KindHealth(assertions=checks.user, settled=True),
    offline=offline.user,
)
