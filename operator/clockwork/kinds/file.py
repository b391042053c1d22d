"""The File kind: content (or a template) on a node, checked once after apply."""

from __future__ import annotations

from clockwork.api.registry import KINDS
from clockwork.compile import Compiler
from clockwork.compile import file as plans
from clockwork.completion import offline
from clockwork.health import KindHealth
from clockwork.health import file as checks
from clockwork.kinds.base import Kind

KIND = Kind(
    info=KINDS["File"],
    compiler=Compiler(apply=plans.apply, destroy=plans.destroy, claims=plans.claims),
    health=KindHealth(assertions=checks.assertions, settled=True),
    offline=offline.file,
)
