"""Resolved resources -> lists of PyInfra operations (pure, no I/O).

One module per kind, each with ``apply(resolved)`` and ``destroy(resolved)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clockwork.api.common import ResolvedCommon
from clockwork.compile import container, file, gitrepo, system, workload
from clockwork.plan import Operation


@dataclass(frozen=True)
class Compiler:
    apply: Callable[[Any], list[Operation]]
    destroy: Callable[[Any], list[Operation]]


COMPILERS: dict[str, Compiler] = {
    "File": Compiler(apply=file.apply, destroy=file.destroy),
    "Directory": Compiler(apply=system.directory_apply, destroy=system.directory_destroy),
    "User": Compiler(apply=system.user_apply, destroy=system.user_destroy),
    "Package": Compiler(apply=system.package_apply, destroy=system.package_destroy),
    "Container": Compiler(apply=container.apply, destroy=container.destroy),
    "GitRepo": Compiler(apply=gitrepo.apply, destroy=gitrepo.destroy),
    "Workload": Compiler(apply=workload.apply, destroy=workload.destroy),
}


def compile_apply(kind: str, resolved: ResolvedCommon) -> list[Operation]:
    return COMPILERS[kind].apply(resolved)


def compile_destroy(kind: str, resolved: ResolvedCommon) -> list[Operation]:
    return COMPILERS[kind].destroy(resolved)
