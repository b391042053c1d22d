"""What the driver and the reconcile machine exchange: inputs, actions, observations, the step."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from clockwork.api.common import DeployableSpec, ResolvedCommon, ResourceStatus
from clockwork.api.registry import KindInfo
from clockwork.completion import guard
from clockwork.completion.base import Completion
from clockwork.diff import Change
from clockwork.plan import HostSpec, Operation, RunRequest, RunResult

Intent = Literal["converge", "plan", "check", "monitor", "destroy"]

DEFAULT_RUN_TIMEOUT = 600
DEFAULT_CONNECT_TIMEOUT = 10


# --- actions the driver performs ---------------------------------------------------


@dataclass(frozen=True)
class Complete:
    spec: dict[str, Any]
    spec_hash: str
    slot: str = "completion"
    # Remediation re-completes with what went wrong, so that a completer can do better.
    diagnostics: str | None = None
    attempt: int = 0


@dataclass(frozen=True)
class Apply:
    request: RunRequest
    plan_hash: str
    slot: str = "apply"


@dataclass(frozen=True)
class Check:
    request: RunRequest
    slot: str = "check"
    # Right after an apply: seconds the resource has to come up. The driver checks again
    # (with a short backoff) while every node answers but a check fails, up to this long.
    startup_seconds: float = 0


@dataclass(frozen=True)
class Destroy:
    request: RunRequest
    slot: str = "destroy"


@dataclass(frozen=True)
class Forget:
    """Everything made is gone: drop the state (local) or the finalizer (operator)."""


Action = Complete | Apply | Check | Destroy | Forget


@dataclass
class Observations:
    """What the driver saw, one slot per action of a pass."""

    completion: Completion | None = None
    apply: RunResult | None = None
    check: RunResult | None = None
    destroy: RunResult | None = None
    # Remediation: re-apply and re-check; then re-complete, apply and verify.
    reapply: RunResult | None = None
    recheck: RunResult | None = None
    recompletion: Completion | None = None
    fixapply: RunResult | None = None
    fixcheck: RunResult | None = None
    # Removing what was applied from nodes the target no longer names.
    cleanup: RunResult | None = None
    # plan: what is on the target nodes now, for each thing the plan would claim.
    inspect: RunResult | None = None

    def put(self, slot: str, value: Any) -> None:
        if slot not in self.__dataclass_fields__:
            raise KeyError(f"unknown observation slot {slot!r}")
        setattr(self, slot, value)


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event the driver posts (local mode prints it)."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class Inputs:
    info: KindInfo
    spec: DeployableSpec
    generation: int
    now: datetime
    intent: Intent = "converge"
    # Kind/namespace/name: who owns what the plan claims on a node.
    ref: str = ""
    # Release what this owner claimed before and the plan no longer names (a Rollout's template).
    exclusive: bool = False
    # Names of the target hosts, resolved by the driver from spec.target; None when
    # the target cannot be resolved (then ``target_error`` says why).
    targets: list[str] | None = None
    target_error: str | None = None
    # Target nodes not run on this time (Offline), with the reason; retried when back.
    skipped: dict[str, str] = field(default_factory=dict)
    # How to reach every host the driver knows about (targets, and nodes in status).
    inventory: dict[str, HostSpec] = field(default_factory=dict)
    # Run the plan even when every node already has its hash (pyinfra is idempotent,
    # and a local `apply` is an explicit request to converge).
    always_apply: bool = False
    run_timeout: int = DEFAULT_RUN_TIMEOUT
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT
    # Identity of the completer the driver will use for this resource; a cached
    # completion by another completer or model is redone.
    completer: str = "defaults"
    policy: guard.GuardPolicy = field(default_factory=guard.GuardPolicy)
    # The clockwork.dev/approve annotation (operator) or the approval in local state.
    approved_hash: str | None = None
    # Seconds between health checks when the resource does not say (kind default or
    # CW_CHECK_INTERVAL_DEFAULT); 0 checks only after apply.
    default_interval: int = 0
    # Dependencies (dependsOn) that are not Ready yet, in words; converge waits for them.
    waiting_for: str | None = None


# Seconds between looks at dependencies that are not Ready yet.
DEPENDENCY_RETRY_SECONDS = 10.0


@dataclass
class Step:
    actions: list[Action]
    status: ResourceStatus[Any]
    resolved: ResolvedCommon | None = None
    operations: list[Operation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # When the health loop should look at this resource again (seconds from now).
    wake_after: float | None = None
    # plan: what applying would do on each node, in words, and field by field.
    notes: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not self.actions
