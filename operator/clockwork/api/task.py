"""The Task kind: a command for an EdgeNode that has the capabilities it needs.

A scheduler assigns a Pending task to an Online node with every required capability
and a free slot (maxConcurrentRuns), least loaded first; the runner runs it there
with a time limit that counts from assignment. Phase, node, exit code, duration and
the tail of the output go to status.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, Self

from pydantic import Field, StrictBool, model_validator

from clockwork.api.base import Condition
from clockwork.api.common import Resource
from clockwork.api.edgenode import Capability
from clockwork.api.types import EnvMap
from clockwork.cel import CelRule
from clockwork.model import CWModel

TaskPhase = Literal["Pending", "Assigned", "Running", "Succeeded", "Failed", "TimedOut", "Cancelled"]
FINAL_PHASES = ("Succeeded", "Failed", "TimedOut", "Cancelled")
DEFAULT_TIMEOUT = 300


ONE_PROGRAM = CelRule(rule="has(self.command) != has(self.script)", message="set exactly one of command or script")


class TaskSpec(CWModel):
    """A command (or script) to run once on a capable node."""

    __cel_rules__: ClassVar[tuple[CelRule, ...]] = (ONE_PROGRAM,)

    description: str | None = Field(
        default=None, max_length=4096, description="What it is for, in words (shown by kubectl explain and the docs)."
    )
    required_capabilities: list[Capability] | None = Field(
        default=None, max_length=32, description="Capabilities the node must list (spec.capabilities of EdgeNode)."
    )
    command: str | None = Field(default=None, min_length=1, max_length=16384, description="Shell command.")
    script: str | None = Field(default=None, min_length=1, max_length=262144, description="Shell script (instead).")
    env: EnvMap | None = Field(default=None, description="Environment variables.")
    timeout_seconds: int | None = Field(
        default=None, ge=1, le=3600, description="Longest the task may take, counted from assignment (300)."
    )
    node_name: str | None = Field(
        default=None, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253, description="Run on this node only."
    )
    retries: int | None = Field(default=None, ge=0, le=10, description="Runs again when its node is lost (0).")
    cancel: StrictBool | None = Field(default=None, description="true: stop it (kills it on the node when running).")

    @model_validator(mode="after")
    def _one_program(self) -> Self:
        ONE_PROGRAM.check((self.command is None) == (self.script is None))
        return self

    @property
    def program(self) -> str:
        return self.command or self.script or ""

    @property
    def timeout(self) -> int:
        return self.timeout_seconds or DEFAULT_TIMEOUT


class TaskStatus(CWModel):
    phase: TaskPhase | None = None
    node: str | None = None
    message: str = Field(default="", max_length=4096)
    attempts: int = 0
    assigned_time: datetime | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    exit_code: int | None = None
    duration_seconds: float | None = None
    output: str = Field(default="", max_length=8192, description="The last part of what it printed.")
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )

    @property
    def finished(self) -> bool:
        return self.phase in FINAL_PHASES


class Task(Resource):
    kind: Literal["Task"] = "Task"
    spec: TaskSpec
    status: TaskStatus | None = None
