"""The Workload kind: a program on the node run forever, n times, or on a schedule.

Deployed as systemd units (a timer for schedules) with memory and CPU priority
limits; each run is recorded on the node (start, end, exit code) and the history
is collected into status by the health check.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, JsonValue, StrictBool, model_validator

from clockwork.api import cron
from clockwork.api.common import DeployableSpec, ResolvedCommon, Resource, ResourceStatus
from clockwork.api.types import AbsolutePath, EnvMap, Guarded, PosixName, Tier, Trait
from clockwork.cel import CelRule
from clockwork.text import single_line

ModuleName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$", max_length=256)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]
WorkloadType = Literal["agent", "script", "service"]
RunMode = Literal["forever", "nTimes", "schedule"]


def _cron(value: str) -> str:
    single_line(value)  # the schedule is written into the timer unit
    cron.parse(value)  # raises ValueError naming the field and the rule
    return value


COMMAND_OR_MODULE = CelRule(
    rule="!(has(self.command) && (has(self.module) || has(self.entryPoint)))",
    message="set either command, or module and entryPoint, not both",
)
MODULE_WITH_ENTRY_POINT = CelRule(
    rule="has(self.module) == has(self.entryPoint)", message="module and entryPoint go together"
)
PARAMS_FOR_MODULE = CelRule(
    rule="!has(self.params) || has(self.module)", message="params are for module and entryPoint"
)


class WorkloadSpec(DeployableSpec):
    """A program kept running, run a number of times, or run on a cron schedule."""

    __cel_rules__: ClassVar[tuple[CelRule, ...]] = (COMMAND_OR_MODULE, MODULE_WITH_ENTRY_POINT, PARAMS_FOR_MODULE)

    name: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$", max_length=200), Guarded.NAME] | None = (
        Field(default=None, description="Unit name suffix: clockwork-NAME.service (the resource's name).")
    )
    type: Annotated[WorkloadType, Tier.SAFE] | None = Field(
        default=None, description="agent, script or service (service)."
    )
    command: Annotated[str, Field(min_length=1, max_length=4096), Guarded.COMMAND, Tier.REVIEW] | None = Field(
        default=None, description="Shell command to run (or module and entryPoint)."
    )
    module: Annotated[ModuleName, Tier.REVIEW] | None = Field(
        default=None, description="Python module to import (with entryPoint)."
    )
    entry_point: Annotated[Identifier, Tier.REVIEW] | None = Field(
        default=None, description="Function of the module to call."
    )
    params: Annotated[dict[str, JsonValue], Tier.REVIEW, Trait.SECRET] | None = Field(
        default=None, description="Keyword arguments for the entry point."
    )
    run_mode: Annotated[RunMode, Tier.SAFE] | None = Field(
        default=None, description="forever, nTimes or schedule (forever)."
    )
    schedule: Annotated[str, Field(max_length=256), AfterValidator(_cron), Tier.SAFE] | None = Field(
        default=None, description="Cron expression (5 fields or @hourly/@daily/...) for runMode schedule."
    )
    max_runs: Annotated[int, Tier.SAFE] | None = Field(
        default=None, ge=1, le=1000000, description="Runs for runMode nTimes."
    )
    timeout_seconds: Annotated[int, Tier.SAFE] | None = Field(
        default=None, ge=1, le=604800, description="Longest a run may take."
    )
    restart_delay_seconds: Annotated[int, Tier.SAFE] | None = Field(
        default=None, ge=0, le=86400, description="Wait before a restart (5)."
    )
    memory_limit_mb: Annotated[int, Tier.SAFE] | None = Field(
        default=None, ge=4, le=1048576, description="Memory cap (MemoryMax)."
    )
    cpu_nice: Annotated[int, Guarded.NICE, Tier.SAFE] | None = Field(
        default=None, ge=-20, le=19, description="CPU priority, -20..19 (0)."
    )
    env: Annotated[EnvMap, Guarded.ENV, Tier.REVIEW] | None = Field(default=None, description="Environment variables.")
    user: Annotated[PosixName, Guarded.NAME] | None = Field(default=None, description="Run as this user (root).")
    working_directory: AbsolutePath | None = Field(default=None, description="Working directory.")
    present: StrictBool | None = Field(default=None, description="true: installed; false: stopped and removed (true).")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        COMMAND_OR_MODULE.check(self.command is not None and (self.module is not None or self.entry_point is not None))
        MODULE_WITH_ENTRY_POINT.check((self.module is None) != (self.entry_point is None))
        PARAMS_FOR_MODULE.check(self.params is not None and self.module is None)
        return self


class Workload(Resource):
    kind: Literal["Workload"] = "Workload"
    spec: WorkloadSpec
    status: ResourceStatus[WorkloadSpec] | None = None


class ResolvedWorkload(ResolvedCommon):
    name: str
    type: WorkloadType
    command: str | None = None
    module: ModuleName | None = None
    entry_point: Identifier | None = None
    params: dict[str, JsonValue] = Field(default_factory=dict)
    run_mode: RunMode
    schedule: str | None = None
    max_runs: int | None = None
    timeout_seconds: int | None = None
    restart_delay_seconds: int
    memory_limit_mb: int | None = None
    cpu_nice: int | None = None
    env: EnvMap = Field(default_factory=dict)
    user: PosixName | None = None
    working_directory: AbsolutePath | None = None
    present: bool

    @model_validator(mode="after")
    def _mode_needs(self) -> Self:
        if self.command is None and self.module is None:
            raise ValueError("command (or module and entryPoint) is required")
        if self.run_mode == "schedule" and not self.schedule:
            raise ValueError("runMode schedule needs a schedule (cron expression)")
        if self.run_mode == "nTimes" and not self.max_runs:
            raise ValueError("runMode nTimes needs maxRuns")
        return self

    @classmethod
    def missing_fields(cls, completed: dict[str, Any]) -> list[str]:
        missing = []
        if completed.get("command") is None and completed.get("module") is None:
            missing.append("command")
        if completed.get("runMode") == "schedule" and not completed.get("schedule"):
            missing.append("schedule")
        if completed.get("runMode") == "nTimes" and not completed.get("maxRuns"):
            missing.append("maxRuns")
        return missing + [f for f in super().missing_fields(completed) if f not in missing]
