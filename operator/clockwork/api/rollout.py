"""The Rollout kind: a version of some resources, rolled across EdgeNodes in batches.

Each batch is applied in parallel, then gated on health on those nodes; a failing
gate rolls every node touched so far back to the version it had before (recorded
per node in status), unless autoRollback is off (then the rollout stops Failed).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, JsonValue, StrictBool, ValidationError, model_validator

from clockwork.api.assertions import Assertion
from clockwork.api.base import Condition
from clockwork.api.common import DeployableKind, Resource, Target
from clockwork.api.deployable import KINDS
from clockwork.cel import CelRule
from clockwork.model import CWModel

_COUNT = re.compile(r"^([1-9][0-9]{0,4})(%?)$")


def _count_or_percent(value: int | str) -> int | str:
    if isinstance(value, int):
        if value < 1:
            raise ValueError("must be at least 1")
        return value
    if not _COUNT.match(value) or (value.endswith("%") and int(value[:-1]) > 100):
        raise ValueError("must be a count (e.g. 2) or a percentage of the nodes (e.g. 25%)")
    return value


CountOrPercent = Annotated[int | str, AfterValidator(_count_or_percent)]


NO_TEMPLATE_TARGET = CelRule(
    rule="!has(self.spec.target)",
    message="spec.target: a rollout chooses the nodes (set spec.nodeSelector of the Rollout)",
)
ONE_BATCH_RULE = CelRule(
    rule="!(has(self.batchSize) && has(self.maxUnavailable))", message="set batchSize or maxUnavailable, not both"
)


class ResourceTemplate(CWModel):
    """One resource of the rolled-out version (its target is set by the rollout)."""

    __cel_rules__: ClassVar[tuple[CelRule, ...]] = (NO_TEMPLATE_TARGET,)

    kind: DeployableKind = Field(description="A deployable kind.")
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=200, description="Its name.")
    spec: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Its spec, without target.",
        # target named (so that NO_TEMPLATE_TARGET can see it), everything else kept as is.
        json_schema_extra={
            "properties": {"target": {"type": "object", "description": "Not allowed: the rollout chooses the nodes."}},
            "x-kubernetes-preserve-unknown-fields": True,
        },
    )

    @model_validator(mode="after")
    def _valid_spec(self) -> Self:
        NO_TEMPLATE_TARGET.check("target" in self.spec)
        try:
            KINDS[self.kind].spec_model.model_validate(self.spec, by_alias=True, by_name=False)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"{self.kind} {self.name}: spec.{where}: {first['msg']}") from None
        return self


class Strategy(CWModel):
    __cel_rules__: ClassVar[tuple[CelRule, ...]] = (ONE_BATCH_RULE,)

    batch_size: CountOrPercent | None = Field(default=None, description="Nodes per batch: a count or a % (1).")
    max_unavailable: CountOrPercent | None = Field(
        default=None, description="Nodes updated at once, as a count or a % (instead of batchSize)."
    )

    @model_validator(mode="after")
    def _one(self) -> Self:
        ONE_BATCH_RULE.check(self.batch_size is not None and self.max_unavailable is not None)
        return self


class HealthGate(CWModel):
    assertions: list[Assertion] = Field(
        default_factory=list, max_length=32, description="Checks on every node of a batch, beside the resources' own."
    )
    timeout_seconds: int | None = Field(
        default=None, ge=1, le=86400, description="How long a batch may take to pass (300)."
    )
    interval_seconds: int | None = Field(default=None, ge=1, le=600, description="Between checks of a batch (5).")


class RolloutSpec(CWModel):
    """A version of some resources, across the EdgeNodes a selector names."""

    description: str | None = Field(
        default=None, max_length=4096, description="What it is for, in words (shown by kubectl explain and the docs)."
    )
    node_selector: dict[str, str] = Field(min_length=1, description="Labels of the EdgeNodes to roll out to.")
    version: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$",
        description="The version to roll out; changing it starts a new rollout.",
    )
    resources: list[ResourceTemplate] = Field(
        min_length=1, max_length=32, description="The resources every selected node gets, at this version."
    )
    strategy: Strategy | None = Field(default=None, description="How many nodes are updated at once, and how fast.")
    health_gate: HealthGate | None = Field(
        default=None, description="Checks a batch must pass before the next one starts."
    )
    auto_rollback: StrictBool | None = Field(
        default=None, description="Roll touched nodes back when a batch fails (true)."
    )
    pause: StrictBool | None = Field(default=None, description="Stop before the next batch until set back to false.")

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen = [f"{r.kind}/{r.name}" for r in self.resources]
        dup = sorted({s for s in seen if seen.count(s) > 1})
        if dup:
            raise ValueError(f"resources: {', '.join(dup)} appear more than once")
        return self

    def target(self) -> Target:
        return Target(node_selector=self.node_selector)


RolloutPhase = Literal["Pending", "Progressing", "Paused", "Completed", "Failed", "RollingBack", "RolledBack"]
NodeState = Literal["pending", "deploying", "deployed", "healthy", "failed", "rolledBack", "skipped"]


class RolloutNode(CWModel):
    name: str
    state: NodeState = "pending"
    batch: int | None = None
    version: str | None = Field(default=None, description="The version the node has now.")
    previous_version: str | None = Field(default=None, description="The version before this rollout touched it.")
    message: str = ""


class VersionRecord(CWModel):
    version: str
    resources: list[ResourceTemplate]


class RolloutStatus(CWModel):
    observed_generation: int | None = None
    phase: RolloutPhase | None = None
    version: str | None = Field(default=None, description="The version being (or last) rolled out.")
    batch: int | None = Field(default=None, description="The batch in progress or last done (1-based).")
    batches: int | None = None
    message: str = ""
    nodes: list[RolloutNode] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    # What each version was made of, so that nodes can be returned to it (newest last; at most 5).
    versions: list[VersionRecord] = Field(default_factory=list, max_length=5)
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    started: datetime | None = None
    finished: datetime | None = None

    def node(self, name: str) -> RolloutNode:
        for node in self.nodes:
            if node.name == name:
                return node
        node = RolloutNode(name=name)
        self.nodes.append(node)
        return node

    def record(self, version: str, resources: list[ResourceTemplate]) -> None:
        self.versions = [v for v in self.versions if v.version != version][-4:]
        self.versions.append(VersionRecord(version=version, resources=resources))

    def resources_of(self, version: str | None) -> list[ResourceTemplate] | None:
        return next((v.resources for v in self.versions if v.version == version), None)


class Rollout(Resource):
    kind: Literal["Rollout"] = "Rollout"
    spec: RolloutSpec
    status: RolloutStatus | None = None


def wire(value: Any) -> Any:
    return value.wire() if hasattr(value, "wire") else value
