"""The spec and status shape every deployable kind shares (docs/resources.md lists the fields).

Spec models are what users write: every field is optional where a sensible value
can be completed, and ``None`` means "not set by the user". ``Resolved*`` models
are the same sections after completion, with every value present; compile/ and
the runners only ever see resolved models.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar, get_args

from pydantic import AfterValidator, Field, StrictBool, model_validator

from clockwork.api.assertions import ASSERTION_TAGS, Assertion
from clockwork.api.base import Condition, CWModel, ObjectMeta
from clockwork.cel import CelRule
from clockwork.claims import OnExisting
from clockwork.plan import Operation

MAX_DESCRIPTION = 4096

RunnerKind = Literal["pyinfra", "job"]
# The kinds the reconcile core deploys, named once: dependencies and Rollout templates take these.
DeployableKind = Literal["File", "Directory", "User", "Package", "Container", "GitRepo", "Workload"]
DEPLOYABLE_KINDS: tuple[str, ...] = get_args(DeployableKind)


def _label_key(value: str) -> str:
    if (
        not re.fullmatch(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", value)
        or len(value) > 316
    ):
        raise ValueError(f"{value!r} is not a valid label key")
    return value


# No lists, filter() or join() here: the API server estimates those far over its cost budget.
_NAME, _SELECTOR, _LOCAL = "has(self.nodeName)", "has(self.nodeSelector)", "(has(self.local) && self.local)"
ONE_TARGET = CelRule(
    rule=f"({_NAME} ? 1 : 0) + ({_SELECTOR} ? 1 : 0) + ({_LOCAL} ? 1 : 0) <= 1",
    message="set only one of nodeName, nodeSelector, local",
    message_expression=(
        f"'set only one of nodeName, nodeSelector, local (got ' + ({_NAME} ? 'nodeName' : '')"
        f" + ({_NAME} && ({_SELECTOR} || {_LOCAL}) ? ', ' : '') + ({_SELECTOR} ? 'nodeSelector' : '')"
        f" + ({_SELECTOR} && {_LOCAL} ? ', ' : '') + ({_LOCAL} ? 'local' : '') + ')'"
    ),
)


class Target(CWModel):
    """Where a resource goes: exactly one of nodeName, nodeSelector or local."""

    __cel_rules__: ClassVar[tuple[CelRule, ...]] = (ONE_TARGET,)

    node_name: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        max_length=253,
        description="Name of one EdgeNode in the same namespace.",
    )
    node_selector: dict[Annotated[str, AfterValidator(_label_key)], str] | None = Field(
        default=None, description="Labels an EdgeNode must carry; every matching node is a target."
    )
    local: StrictBool | None = Field(
        default=None,
        description="Apply on the machine running Clockwork (the CLI host, or the operator pod).",
    )

    @model_validator(mode="after")
    def _one_kind_of_target(self) -> Self:
        chosen = [
            name
            for name, value in (
                ("nodeName", self.node_name),
                ("nodeSelector", self.node_selector),
                ("local", self.local),
            )
            if value not in (None, False)
        ]
        if len(chosen) > 1:
            raise ValueError(f"{ONE_TARGET.message} (got {', '.join(chosen)})")
        return self

    def summary(self) -> str:
        """Short text for the TARGET printer column."""
        if self.node_name:
            return self.node_name
        if self.node_selector:
            return ",".join(f"{k}={v}" for k, v in sorted(self.node_selector.items()))
        return "local"


# Discriminator values of tagged unions, dropped from error locations shown to people.
UNION_TAGS: frozenset[str] = ASSERTION_TAGS


class HealthSpec(CWModel):
    interval_seconds: int | None = Field(
        default=None,
        ge=0,
        le=86400,
        description="Seconds between health checks; 0 checks only after apply. Kind default when unset.",
    )
    startup_seconds: int | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="Seconds a resource has to pass its checks after it was applied before a failure counts: "
        "the check is repeated until then. Kind default when unset (30 for a Container or Workload, 0 otherwise).",
    )
    assertions: list[Assertion] | None = Field(
        default=None, max_length=32, description="Extra checks beyond the kind's own."
    )


class RemediationSpec(CWModel):
    enabled: StrictBool | None = Field(default=None, description="Repair failed health checks (true).")
    max_attempts: int | None = Field(default=None, ge=0, le=100, description="Attempts before giving up (3).")
    backoff_seconds: int | None = Field(
        default=None, ge=0, le=86400, description="First wait between attempts, doubled each time (10)."
    )


class CompletionSpec(CWModel):
    mode: Literal["auto", "off"] | None = Field(
        default=None, description="auto: complete missing fields; off: only defaults (auto)."
    )
    approval: Literal["auto", "manual"] | None = Field(
        default=None,
        description="manual: wait for the clockwork.dev/approve annotation before applying (auto).",
    )


class Dependency(CWModel):
    """Another resource of the same namespace that must be Ready first."""

    kind: DeployableKind = Field(description="Its kind.")
    name: str = Field(
        min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", description="Its metadata.name."
    )

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


class DeployableSpec(CWModel):
    """Fields every deployable kind has, beside its own."""

    description: str | None = Field(
        default=None,
        max_length=MAX_DESCRIPTION,
        description="What you want, in words; the brief for completion.",
    )
    target: Target | None = None
    runner: RunnerKind | None = Field(default=None, description="pyinfra (default) or job (a Kubernetes Job).")
    health: HealthSpec | None = Field(
        default=None, description="How and how often the resource is checked after it is applied."
    )
    remediation: RemediationSpec | None = Field(
        default=None, description="Whether failed health checks are repaired, how many times and how far apart."
    )
    completion: CompletionSpec | None = Field(
        default=None, description="Whether missing fields are completed, and whether applying waits for approval."
    )
    depends_on: list[Dependency] | None = Field(
        default=None,
        max_length=32,
        description="Resources (same namespace) applied and Ready before this one; destroyed after it.",
    )
    on_existing: OnExisting | None = Field(
        default=None,
        description="What apply does with something already there that Clockwork did not make: refuse; backup "
        "(a copy is kept and destroy puts it back); adopt (Clockwork's from now on, removed on destroy). Default: "
        "backup, except refuse for a File or GitRepo outside the allowed roots and for a Container.",
    )


# --- resolved (after completion) -------------------------------------------------


class ResolvedHealth(CWModel):
    # None: the kind's default (or CW_CHECK_INTERVAL_DEFAULT), decided when checking.
    interval_seconds: int | None = Field(default=None, ge=0, le=86400)
    # None: the kind's default (KindHealth.startup_seconds).
    startup_seconds: int | None = Field(default=None, ge=0, le=3600)
    assertions: list[Assertion] = Field(default_factory=list)


class ResolvedRemediation(CWModel):
    enabled: bool
    max_attempts: int = Field(ge=0, le=100)
    backoff_seconds: int = Field(ge=0, le=86400)


class ResolvedCompletion(CWModel):
    mode: Literal["auto", "off"]
    approval: Literal["auto", "manual"]


class ResolvedCommon(CWModel):
    description: str | None = None
    on_existing: OnExisting | None = None
    target: Target
    runner: RunnerKind
    health: ResolvedHealth
    remediation: ResolvedRemediation
    completion: ResolvedCompletion
    depends_on: list[Dependency] = Field(default_factory=list)

    @classmethod
    def missing_fields(cls, completed: dict[str, Any]) -> list[str]:
        """Wire names of required values the completed spec still lacks."""
        return [
            field.alias or name
            for name, field in cls.model_fields.items()
            if field.is_required() and completed.get(field.alias or name) is None
        ]


# --- status ----------------------------------------------------------------------

CompletionSource = Literal["default", "offline", "ai"]


class FilledField(CWModel):
    field: str = Field(description="Dotted path of the field under spec, e.g. remediation.maxAttempts.")
    source: CompletionSource = Field(description="Who supplied the value: default, offline or ai.")
    model: str | None = Field(default=None, description="Model name, for ai values.")


class CompletionStatus(CWModel):
    spec_hash: str = Field(description="Hash of the spec this completion belongs to (cache key).")
    completer: str = Field(description="The completer that ran: defaults, offline or ai.")
    model: str | None = None
    filled: list[FilledField] = Field(default_factory=list)
    unresolved: list[str] = Field(
        default_factory=list, description="Fields the completer could not fill, with the reason."
    )
    error: str | None = Field(default=None, description="Why the completer gave up on this spec.")
    completed_hash: str | None = Field(
        default=None,
        description="Hash of the completed spec: the value clockwork.dev/approve must carry to approve it.",
    )
    review: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="Review-tier values a completer proposed that wait for a person's approval.",
    )
    review_hash: str | None = Field(default=None, description="Hash of the values under review.")
    approved_review: str | None = Field(
        default=None, description="The reviewHash a person approved (kept while those values stay the same)."
    )
    time: datetime | None = None


NodeResult = Literal["ok", "changed", "failed", "skipped"]


class NodeStatus(CWModel):
    name: str = Field(description="Node name (@local for the local machine).")
    applied_hash: str | None = Field(default=None, description="Hash of the last plan applied.")
    last_result: NodeResult | None = None
    last_apply_time: datetime | None = None
    healthy: StrictBool | None = None
    message: str = Field(default="", max_length=4096)


class AssertionResult(CWModel):
    name: str
    node: str
    ok: bool
    message: str = Field(default="", max_length=4096)


class HealthStatus(CWModel):
    last_check_time: datetime | None = None
    results: list[AssertionResult] = Field(default_factory=list)


class RunRecord(CWModel):
    """One run of a Workload on a node."""

    node: str
    start: datetime
    end: datetime
    exit_code: int
    duration_seconds: int


class RemediationEntry(CWModel):
    time: datetime
    attempt: int
    action: str
    result: Literal["succeeded", "failed"]
    message: str = Field(default="", max_length=4096)


class RemediationStatus(CWModel):
    attempts: int = 0
    last_error: str | None = None
    next_attempt_time: datetime | None = None
    history: list[RemediationEntry] = Field(default_factory=list)


class AppliedStatus(CWModel):
    """What the last successful apply made, and how to remove it again.

    Kept so that destroy (and a change of identity, such as a new path) removes
    exactly what was made, even when the current spec can no longer be resolved.
    """

    plan_hash: str
    time: datetime
    undo: list[Operation] = Field(default_factory=list, max_length=64)


SpecT = TypeVar("SpecT", bound=DeployableSpec)


class ResourceStatus(CWModel, Generic[SpecT]):
    observed_generation: int | None = Field(default=None, description="The spec generation this status describes.")
    target: str | None = Field(default=None, description="Where the resource goes, in short.")
    completed: SpecT | None = Field(
        default=None,
        description="The full resolved spec: user values, then completed values, then defaults.",
    )
    completion: CompletionStatus | None = None
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    nodes: list[NodeStatus] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    applied: AppliedStatus | None = None
    health: HealthStatus | None = None
    remediation: RemediationStatus | None = None
    runs: list[RunRecord] = Field(
        default_factory=list, max_length=200, description="Latest runs of a Workload (start, end, exit code)."
    )

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


class Resource(CWModel):
    """The envelope every kind shares; each kind narrows ``kind`` and ``spec``."""

    api_version: Literal["clockwork.dev/v1alpha1"] = "clockwork.dev/v1alpha1"
    kind: str
    metadata: ObjectMeta
    spec: CWModel

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.metadata.namespace}/{self.metadata.name}"
