"""The Workflow kind: Tasks run in order, or as a graph by dependsOn."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, Self

from pydantic import Field, StrictBool, model_validator

from clockwork import deps
from clockwork.api.base import Condition
from clockwork.api.common import Resource
from clockwork.api.task import TaskPhase, TaskSpec
from clockwork.cel import CelRule
from clockwork.model import CWModel

StepName = str

# Both checked by the API server too; what only Python can check (a cycle) stays in ``_graph``.
UNIQUE_STEP_NAMES = CelRule(
    rule="self.steps.all(s, self.steps.exists_one(t, t.name == s.name))",
    message="every step needs a name of its own",
)
DEPENDS_ON_A_STEP = CelRule(
    rule="self.steps.all(s, !has(s.dependsOn) || s.dependsOn.all(d, self.steps.exists(t, t.name == d)))",
    message="dependsOn names a step that is not in the workflow",
)


class WorkflowStep(CWModel):
    name: StepName = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=50, description="Step name.")
    task: TaskSpec = Field(description="The Task this step runs (created as WORKFLOW-STEP).")
    depends_on: list[StepName] | None = Field(
        default=None, max_length=32, description="Steps that must succeed first (default: the previous step)."
    )
    continue_on_failure: StrictBool | None = Field(
        default=None, description="A failure of this step does not fail the workflow (false)."
    )


class WorkflowSpec(CWModel):
    """Steps of tasks: in order, or a graph when any step says dependsOn."""

    __cel_rules__: ClassVar[tuple[CelRule, ...]] = (UNIQUE_STEP_NAMES, DEPENDS_ON_A_STEP)

    description: str | None = Field(
        default=None, max_length=4096, description="What it is for, in words (shown by kubectl explain and the docs)."
    )
    steps: list[WorkflowStep] = Field(
        min_length=1, max_length=64, description="The steps, each a Task; in order unless a step says dependsOn."
    )

    @model_validator(mode="after")
    def _graph(self) -> Self:
        names = [s.name for s in self.steps]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"steps {', '.join(dup)}: {UNIQUE_STEP_NAMES.message}")
        for step in self.steps:
            unknown = [d for d in step.depends_on or [] if d not in names]
            if unknown:
                raise ValueError(f"steps.{step.name}.dependsOn {', '.join(unknown)}: {DEPENDS_ON_A_STEP.message}")
        try:
            deps.order(names, self.graph())
        except deps.DependencyCycle as exc:
            raise ValueError(str(exc)) from None
        return self

    def graph(self) -> dict[str, list[str]]:
        """Each step's prerequisites: dependsOn, or the previous step when no step uses dependsOn."""
        if any(s.depends_on for s in self.steps):
            return {s.name: list(s.depends_on or []) for s in self.steps}
        return {s.name: ([self.steps[i - 1].name] if i else []) for i, s in enumerate(self.steps)}


WorkflowPhase = Literal["Pending", "Running", "Succeeded", "Failed"]
StepPhase = Literal[
    "Waiting", "Skipped", "Pending", "Assigned", "Running", "Succeeded", "Failed", "TimedOut", "Cancelled"
]


class StepStatus(CWModel):
    name: str
    phase: StepPhase = "Waiting"
    task: str | None = Field(default=None, description="Name of the Task object.")
    node: str | None = None
    exit_code: int | None = None
    output: str = Field(default="", max_length=8192)
    message: str = Field(default="", max_length=4096)


class WorkflowStatus(CWModel):
    phase: WorkflowPhase | None = None
    message: str = ""
    steps: list[StepStatus] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    start_time: datetime | None = None
    completion_time: datetime | None = None

    def step(self, name: str) -> StepStatus:
        for found in self.steps:
            if found.name == name:
                return found
        found = StepStatus(name=name)
        self.steps.append(found)
        return found


class Workflow(Resource):
    kind: Literal["Workflow"] = "Workflow"
    spec: WorkflowSpec
    status: WorkflowStatus | None = None


TASK_DONE: tuple[TaskPhase, ...] = ("Succeeded", "Failed", "TimedOut", "Cancelled")
