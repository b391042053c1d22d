"""The fleet kinds in local mode: EdgeNode probes, Tasks and Workflows sharing the nodes' slots, Rollouts.

Functions of the LocalDriver (state in its SQLite store); they run to the end in this invocation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from clockwork import rollouts, tasks, workflows
from clockwork.api.base import ObjectMeta, utcnow
from clockwork.api.edgenode import EdgeNode, EdgeNodeStatus
from clockwork.api.registry import FLEET_KINDS
from clockwork.api.rollout import Rollout, RolloutStatus
from clockwork.api.task import Task, TaskStatus
from clockwork.api.workflow import Workflow, WorkflowStatus, WorkflowStep
from clockwork.completion.base import spec_hash
from clockwork.fleet import edgenodes
from clockwork.local.loading import Loaded
from clockwork.local.outcome import Outcome
from clockwork.plan import HostSpec
from clockwork.reconcile import Intent
from clockwork.store import StoredResource

if TYPE_CHECKING:
    from clockwork.local.driver import LocalDriver


async def probe_node(driver: LocalDriver, item: Loaded, intent: Intent, slots: tasks.Slots) -> Outcome:
    node = item.of(EdgeNode)
    assert node is not None
    meta = node.metadata
    record = driver.store.get(item.kind, meta.namespace, meta.name)
    if intent == "destroy" or (intent in ("check", "monitor") and record is None):
        if record is not None:
            driver.store.delete(item.kind, meta.namespace, meta.name)
        known = record is not None
        message = "forgotten" if known else "not applied yet"
        return Outcome(ref=item.ref, intent=intent, ok=intent == "destroy", status=EdgeNodeStatus(),
                       message=message, forgotten=known, known=known)  # fmt: skip
    spec_wire = node.spec.wire()
    current_hash = spec_hash(spec_wire)
    status = EdgeNodeStatus.model_validate(record.status) if record else None
    if record is not None and record.spec_hash != current_hash and status is not None:
        status.host_key = None if node.spec.host_key and node.spec.host_key.known_hosts else status.host_key
    now = utcnow()
    if intent == "monitor" and status is not None and status.last_probe_time is not None:
        due = status.last_probe_time.timestamp() + node.spec.effective_heartbeat
        if now.timestamp() < due:
            return Outcome(ref=item.ref, intent=intent, ok=status.phase == "Online", status=status,
                           message=status.message, wake_after=due - now.timestamp())  # fmt: skip
    if intent == "plan":
        return Outcome(ref=item.ref, intent=intent, ok=True, status=status or EdgeNodeStatus(), message="")
    host = driver.host(node, status)
    if isinstance(host, str):
        beat = edgenodes.next_status(node, status, None, now, error=host)
    else:
        result = await driver.runners["pyinfra"].run(edgenodes.probe_request(node, host))
        beat = edgenodes.next_status(node, status, result, now)
    driver.store.put(
        StoredResource(
            kind=item.kind, namespace=meta.namespace, name=meta.name,
            generation=(record.generation + (record.spec_hash != current_hash)) if record else 1,
            spec_hash=current_hash, spec=spec_wire, status=beat.status.wire(),
            created=record.created if record else now, updated=now,
        )
    )  # fmt: skip
    ok = beat.status.phase == "Online"
    return Outcome(ref=item.ref, intent=intent, ok=ok, status=beat.status, message=beat.status.message,
                   events=beat.events, wake_after=float(node.spec.effective_heartbeat))  # fmt: skip


async def run_tasks(driver: LocalDriver, items: list[Loaded], intent: Intent) -> list[Outcome]:
    """Tasks and Workflows at once, sharing the nodes' slots."""
    slots = tasks.Slots()

    async def one(item: Loaded) -> Outcome:
        return await RUN[item.kind](driver, item, intent, slots)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def run_workflow(driver: LocalDriver, item: Loaded, intent: Intent, slots: tasks.Slots) -> Outcome:
    workflow = item.of(Workflow)
    assert workflow is not None
    meta = workflow.metadata
    record = driver.store.get(item.kind, meta.namespace, meta.name)
    spec_wire = workflow.spec.wire()
    current_hash = spec_hash(spec_wire)
    status = WorkflowStatus.model_validate(record.status) if record else WorkflowStatus()
    created = record.created if record else utcnow()
    steps = {workflows.task_name(workflow, s): s for s in workflow.spec.steps}

    def step_item(name: str) -> Loaded:
        task = Task(metadata=ObjectMeta(name=name, namespace=meta.namespace), spec=steps[name].task)
        return Loaded(task, item.source)

    if intent == "destroy":
        for name in steps:
            driver.store.delete("Task", meta.namespace, name)
        if record is not None:
            driver.store.delete(item.kind, meta.namespace, meta.name)
        return Outcome(ref=item.ref, intent=intent, ok=True, status=status, forgotten=record is not None,
                       known=record is not None, message="forgotten")  # fmt: skip
    done = status.phase in ("Succeeded", "Failed") and record is not None and record.spec_hash == current_hash
    if intent != "converge" or done:
        return Outcome(ref=item.ref, intent=intent, ok=status.phase == "Succeeded", status=status,
                       message=status.message)  # fmt: skip
    if record is not None and record.spec_hash != current_hash:
        status = WorkflowStatus()
        for name in steps:
            driver.store.delete("Task", meta.namespace, name)
    finished: dict[str, TaskStatus] = {}
    started: list[asyncio.Task[None]] = []

    async def run_step(step: WorkflowStep) -> None:
        name = workflows.task_name(workflow, step)
        outcome = await run_task(driver, step_item(name), "converge", slots)
        result = outcome.status
        if result.phase == "Pending":  # nothing in this run can take it: the step fails with why
            result = result.model_copy(update={"phase": "Failed", "message": f"not scheduled: {result.message}"})
        finished[step.name] = result

    async def start(step: WorkflowStep) -> None:
        started.append(asyncio.ensure_future(run_step(step)))

    async def poll() -> dict[str, TaskStatus]:
        return dict(finished)

    async def save(current: WorkflowStatus) -> None:
        driver.store.put(
            StoredResource(kind=item.kind, namespace=meta.namespace, name=meta.name, generation=1,
                           spec_hash=current_hash, spec=spec_wire, status=current.wire(), created=created,
                           updated=utcnow())
        )  # fmt: skip

    try:
        final = await workflows.run(workflow, status, workflows.WorkflowRun(start, poll, save, every=0.2))
    finally:
        for pending in started:
            if not pending.done():
                pending.cancel()
    return Outcome(ref=item.ref, intent=intent, ok=final.phase == "Succeeded", status=final,
                   message=final.message)  # fmt: skip


async def run_task(driver: LocalDriver, item: Loaded, intent: Intent, slots: tasks.Slots) -> Outcome:
    task = item.of(Task)
    assert task is not None
    meta = task.metadata
    record = driver.store.get(item.kind, meta.namespace, meta.name)
    spec_wire = task.spec.wire()
    current_hash = spec_hash(spec_wire)
    status = TaskStatus.model_validate(record.status) if record else TaskStatus()
    created = record.created if record else utcnow()
    uid = f"{meta.namespace}-{meta.name}-{current_hash[:8]}"

    async def save(current: TaskStatus) -> None:
        driver.store.put(
            StoredResource(kind=item.kind, namespace=meta.namespace, name=meta.name, generation=1,
                           spec_hash=current_hash, spec=spec_wire, status=current.wire(), created=created,
                           updated=utcnow())
        )  # fmt: skip

    def outcome(current: TaskStatus) -> Outcome:
        return Outcome(ref=item.ref, intent=intent, ok=current.phase == "Succeeded", status=current,
                       message=current.message)  # fmt: skip

    if intent == "destroy":
        if record is not None:
            driver.store.delete(item.kind, meta.namespace, meta.name)
        return Outcome(ref=item.ref, intent=intent, ok=True, status=status, forgotten=record is not None,
                       known=record is not None, message="forgotten")  # fmt: skip
    if intent != "converge" or (record is not None and record.spec_hash == current_hash and status.finished):
        return outcome(status)  # a task runs once per spec
    if record is not None and record.spec_hash != current_hash:
        status = TaskStatus()
    if task.spec.cancel:
        status.phase, status.message, status.completion_time = "Cancelled", "cancelled before it ran", utcnow()
        await save(status)
        return outcome(status)
    nodes = driver.nodes()

    async def listed() -> tasks.Nodes:
        return nodes

    async def host(node: EdgeNode, node_status: EdgeNodeStatus | None) -> HostSpec | str:
        return driver.host(node, node_status)

    run = tasks.TaskRun(driver.runners["pyinfra"], driver.settings.connect_timeout, listed, host, save)
    return outcome(await tasks.place_and_run(task, status, uid, slots, run))


async def run_rollout(driver: LocalDriver, item: Loaded, intent: Intent, slots: tasks.Slots) -> Outcome:
    """A Rollout in local mode: runs to its end (or a pause) in this invocation."""
    rollout = item.of(Rollout)
    assert rollout is not None
    meta = rollout.metadata
    record = driver.store.get(item.kind, meta.namespace, meta.name)
    status = RolloutStatus.model_validate(record.status) if record else RolloutStatus()
    spec_wire = rollout.spec.wire()
    current_hash = spec_hash(spec_wire)
    generation = (record.generation + (record.spec_hash != current_hash)) if record else 1
    if record is None and intent != "converge":
        return Outcome(ref=item.ref, intent=intent, ok=intent == "destroy", status=status,
                       message="not applied yet", known=False)  # fmt: skip
    if intent in ("check", "monitor", "plan"):
        ok = status.phase == "Completed"
        return Outcome(ref=item.ref, intent=intent, ok=ok, status=status, message=status.message)
    resolution, inventory = driver.targets_for(rollout.spec.target(), meta)
    created = record.created if record else utcnow()
    if intent == "destroy":

        async def keep(_: RolloutStatus) -> None:
            return None

        run = rollouts.RolloutRun(driver, resolution.targets, resolution.skipped, inventory, keep)
        problems = await rollouts.remove(rollout, status, run)
        if problems:
            message = "; ".join(f"{n}: {p}" for n, p in sorted(problems.items()))
            return Outcome(ref=item.ref, intent=intent, ok=False, status=status, message=message)
        driver.store.delete(item.kind, meta.namespace, meta.name)
        return Outcome(ref=item.ref, intent=intent, ok=True, status=status, forgotten=True, message="destroyed")

    async def save(current: RolloutStatus) -> None:
        driver.store.put(
            StoredResource(kind=item.kind, namespace=meta.namespace, name=meta.name, generation=generation,
                           spec_hash=current_hash, spec=spec_wire, status=current.wire(), created=created,
                           updated=utcnow())
        )  # fmt: skip

    # No node to go to (resolution.error included) is the rollout's own verdict: NoTargets.
    run = rollouts.RolloutRun(driver, resolution.targets, resolution.skipped, inventory, save,
                              phases=resolution.phases,
                              progress=lambda said: driver.say(f"{item.ref}:", said))  # fmt: skip
    final = await rollouts.run(rollout, status, run, generation)
    return Outcome(ref=item.ref, intent=intent, ok=final.phase == "Completed", status=final,
                   message=final.message, events=run.events)  # fmt: skip


def plan_fleet(driver: LocalDriver, item: Loaded) -> Outcome:
    """plan for a fleet kind: what applying it will do, in words; nothing is run."""
    info = FLEET_KINDS[item.kind]
    record = driver.store.get(item.kind, item.metadata.namespace, item.metadata.name)
    status = info.status.model_validate(record.status) if record else info.status()
    return Outcome(ref=item.ref, intent="plan", ok=True, status=status, message=info.plan(item.resource))


# How local mode runs each fleet kind (the deployable kinds go through the engine). The
# kinds in SHARE_SLOTS run together in one apply, sharing the nodes' slots.
RUN: dict[str, Callable[[LocalDriver, Loaded, Intent, tasks.Slots], Awaitable[Outcome]]] = {
    "EdgeNode": probe_node,
    "Rollout": run_rollout,
    "Task": run_task,
    "Workflow": run_workflow,
}
SHARE_SLOTS = frozenset({"Task", "Workflow"})
