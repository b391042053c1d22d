"""Local mode: the second driver of the reconcile core, without a cluster.

Reads resources from YAML files (:mod:`.loading`), keeps their status in the SQLite
store and runs plans on this machine (``@local``) or on SSH nodes declared alongside
(:mod:`.driver`, the fleet kinds in :mod:`.fleet`); ``clockwork watch`` is :mod:`.watch`.
The kopf operator drives the same :func:`clockwork.reconcile.step`; nothing here
decides *what* to do.
"""

from clockwork.local.driver import Approval, LocalDriver
from clockwork.local.loading import Loaded, dependency_refs, load, unknown_dependencies
from clockwork.local.outcome import Outcome, verdict
from clockwork.local.watch import Watcher

__all__ = [
    "Approval",
    "Loaded",
    "LocalDriver",
    "Outcome",
    "Watcher",
    "dependency_refs",
    "load",
    "unknown_dependencies",
    "verdict",
]
