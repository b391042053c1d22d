"""Every deployable kind, one entry each (one module per kind), and the lookups built from them.

Adding a kind means its API model module, its module here, and its compile and health cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from clockwork.api.registry import kind_info
from clockwork.completion.offline import DEFAULT_ROOT, OfflineCompleter, Rules
from clockwork.kinds import container, directory, file, gitrepo, package, user, workload
from clockwork.kinds.base import Kind

KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        k.name: k
        for k in (file.KIND, directory.KIND, user.KIND, package.KIND, container.KIND, gitrepo.KIND, workload.KIND)
    }
)
OFFLINE_RULES: Mapping[str, Rules] = MappingProxyType({name: k.offline for name, k in KINDS.items()})


def entry(kind: str) -> Kind:
    """A deployable kind's entry by name (bad input when unknown, as :func:`kind_info` says)."""
    return KINDS[kind_info(kind).kind]


def offline_completer(root: str = DEFAULT_ROOT) -> OfflineCompleter:
    """The offline completer with every kind's rules."""
    return OfflineCompleter(OFFLINE_RULES, root)


__all__ = ["KINDS", "OFFLINE_RULES", "Kind", "entry", "offline_completer"]
