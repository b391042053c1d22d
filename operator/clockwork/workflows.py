"""Drives a Workflow: which steps may start, and what the workflow's phase is. Pure
decisions (``advance``) plus a loop both drivers share (``run``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from clockwork.api.base import utcnow
from clockwork.api.task import TaskStatus
from clockwork.api.workflow import TASK_DONE, Workflow, WorkflowStatus, WorkflowStep


def task_name(workflow: Workflow, step: WorkflowStep) -> str:
    return f"{workflow.metadata.name}-{step.name}"[:253]


def advance(workflow: Workflow, status: WorkflowStatus) -> list[WorkflowStep]:
    """Update the workflow's phase from its steps; the steps that may start now."""
    graph = workflow.spec.graph()
    by_name = {s.name: s for s in workflow.spec.steps}
    for step in workflow.spec.steps:
        status.step(step.name)
    failed_hard = [
        s.name for s in workflow.spec.steps
        if status.step(s.name).phase in ("Failed", "TimedOut", "Cancelled") and not s.continue_on_failure
    ]  # fmt: skip
    ready: list[WorkflowStep] = []
    for step in workflow.spec.steps:
        current = status.step(step.name)
        if current.phase != "Waiting":
            continue
        before = [status.step(d) for d in graph[step.name]]
        blocked = [b for b in before if b.phase in ("Failed", "TimedOut", "Cancelled", "Skipped")
                   and not (b.phase != "Skipped" and by_name[b.name].continue_on_failure)]  # fmt: skip
        if blocked:
            current.phase, current.message = "Skipped", f"{blocked[0].name} did not succeed"
        elif not failed_hard and all(
            b.phase == "Succeeded" or (b.phase in TASK_DONE and by_name[b.name].continue_on_failure) for b in before
        ):
            ready.append(step)
    phases = [status.step(s.name).phase for s in workflow.spec.steps]
    if status.start_time is None:
        status.start_time = utcnow()
    if all(p in (*TASK_DONE, "Skipped") for p in phases) and not ready:
        status.phase = "Failed" if failed_hard else "Succeeded"
        status.message = (f"step {failed_hard[0]} failed: {status.step(failed_hard[0]).message}" if failed_hard
                          else f"{len(phases)} step(s) done")  # fmt: skip
        status.completion_time = status.completion_time or utcnow()
    elif failed_hard and not ready and not any(p in ("Pending", "Assigned", "Running") for p in phases):
        status.phase, status.message = "Failed", f"step {failed_hard[0]} failed"
        for step in workflow.spec.steps:
            if status.step(step.name).phase == "Waiting":
                status.step(step.name).phase = "Skipped"
        status.completion_time = status.completion_time or utcnow()
    else:
        status.phase = "Running"
        running = [
            s.name for s in workflow.spec.steps if status.step(s.name).phase in ("Pending", "Assigned", "Running")
        ]
        status.message = f"running: {', '.join(running + [s.name for s in ready])}"
    return ready


def record(status: WorkflowStatus, step: str, task: str, task_status: TaskStatus) -> None:
    current = status.step(step)
    current.task = task
    current.phase = task_status.phase or "Pending"
    current.node, current.exit_code = task_status.node, task_status.exit_code
    current.output, current.message = task_status.output, task_status.message


def step(workflow: Workflow, status: WorkflowStatus, observed: dict[str, TaskStatus]) -> list[WorkflowStep]:
    """One step of a Workflow: record what its Tasks say (step name -> status), advance, and
    mark the steps that start now Pending with their Task's name; those steps, to start."""
    steps = {s.name: s for s in workflow.spec.steps}
    for name, task_status in observed.items():
        if name in steps:
            record(status, name, task_name(workflow, steps[name]), task_status)
    ready = advance(workflow, status)
    for started in ready:
        status.step(started.name).phase, status.step(started.name).task = "Pending", task_name(workflow, started)
    return ready


@dataclass
class WorkflowRun:
    start: Callable[[WorkflowStep], Awaitable[None]]  # create the step's Task (or run it)
    poll: Callable[[], Awaitable[dict[str, TaskStatus]]]  # step name -> its Task's status
    save: Callable[[WorkflowStatus], Awaitable[None]]
    every: float = 1.0


async def run(workflow: Workflow, status: WorkflowStatus, ctx: WorkflowRun) -> WorkflowStatus:
    while True:
        for ready in step(workflow, status, await ctx.poll()):
            await ctx.start(ready)
        await ctx.save(status)
        if status.phase in ("Succeeded", "Failed"):
            return status
        await asyncio.sleep(ctx.every)
