"""The GitRepo kind: a working copy, checked once after apply (and periodically for drift)."""

from __future__ import annotations

from clockwork.api.registry import KINDS
from clockwork.compile import Compiler
from clockwork.compile import gitrepo as plans
from clockwork.completion import offline
from clockwork.health import KindHealth
from clockwork.health import kinds as checks
from clockwork.kinds.base import Kind

KIND = Kind(
    info=KINDS["GitRepo"],
    compiler=Compiler(apply=plans.apply, destroy=plans.destroy, claims=plans.claims),
    health=KindHealth(assertions=checks.gitrepo, settled=True),
    offline=offline.gitrepo,
)
