"""What describes a kind: its names, its models and how `kubectl get` shows it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from clockwork.api import fields
from clockwork.api.common import DeployableSpec, ResolvedCommon, Resource
from clockwork.model import CWModel


@dataclass(frozen=True)
class Column:
    """A printer column of ``kubectl get``."""

    name: str
    type: str
    json_path: str


def _condition_column(name: str) -> Column:
    return Column(name, "string", f'.status.conditions[?(@.type=="{name}")].status')


AGE = Column("Age", "date", ".metadata.creationTimestamp")
DEPLOYABLE_COLUMNS = (
    _condition_column("Ready"),
    _condition_column("Healthy"),
    Column("Target", "string", ".status.target"),
    AGE,
)


@dataclass(frozen=True, kw_only=True)
class KindBase:
    """What every kind has: names, the envelope model, and how `kubectl get` shows it."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    model: type[Resource]
    description: str
    printer_columns: tuple[Column, ...] = DEPLOYABLE_COLUMNS
    # The condition that plays Ready's part in the tables (an EdgeNode is Reachable).
    ready_condition: str = "Ready"

    @property
    def ready_phases(self) -> tuple[str, ...] | None:
        """The phases in which a resource is where it should be, for a kind whose
        ``status.phase`` says so: such a kind is neither completed nor compiled, and its
        plan is one sentence. None: the Ready condition says it (a deployable kind)."""
        return None


@dataclass(frozen=True, kw_only=True)
class KindInfo(KindBase):
    """A deployable kind: completed, compiled, applied and checked by the reconcile core."""

    spec_model: type[DeployableSpec]
    resolved_model: type[ResolvedCommon]
    # Seconds between health checks; 0 means once after apply (and after changes).
    default_health_interval: int
    # Sets of field groups that say the same thing in different ways: once the user
    # set any field of one group of a set, the other groups of that set are not completed.
    alternatives: tuple[tuple[tuple[str, ...], ...], ...] = ()
    # The field that names the thing on the node; it defaults to the resource's name.
    name_field: str | None = None
    # What completion fills last, when neither the user nor a completer gave a value.
    defaults: Mapping[str, Any]

    @property
    def completable(self) -> tuple[str, ...]:
        """Spec fields a completer (offline or AI) may fill: those with a tier on their type
        (:class:`clockwork.api.types.Tier`); everything else comes from the user or defaults."""
        return fields.completable(self.spec_model)


@dataclass(frozen=True, kw_only=True)
class FleetKind(KindBase):
    """A kind the fleet layer drives (EdgeNode, ...): its own spec and status."""

    spec_model: type[CWModel]
    status: type[CWModel]
    # What applying the resource will do, in one sentence (``clockwork plan``).
    plan: Callable[[Any], str]
    # Phases in which the resource is where it should be (``clockwork status`` exits 1 otherwise).
    ok_phases: tuple[str, ...] = ()

    @property
    def ready_phases(self) -> tuple[str, ...]:
        return self.ok_phases
