"""The operator's fleet work: Tasks, Workflows and Rollouts, without holding a handler.

A kopf handler only starts or pokes the work and returns, so a Task that runs for an
hour, a Workflow waiting on its steps or a Rollout waiting on a health gate never
keeps one of kopf's workers (``worker_limit``) from the next object. The work runs in
the operator's own event loop: a Task's run (``tasks.place_and_run``) waits for a
slot and for its command without polling the API; a cancel or a delete is seen in the
Task's next event and sets the run's cancel event; a Task that was running when the
operator stopped is attached to on its node (``tasks.resume``). A Workflow advances on its Tasks'
events (``workflows.advance`` on the statuses they carry); it lists its Tasks only when
it is created or resumed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from clockwork import metrics, rollouts, tasks, workflows
from clockwork.api.base import API_VERSION, ObjectMeta, OwnerReference, utcnow
from clockwork.api.rollout import Rollout, RolloutStatus
from clockwork.api.task import Task, TaskStatus
from clockwork.api.workflow import Workflow, WorkflowStatus, WorkflowStep
from clockwork.errors import describe_validation_error
from clockwork.plan import Origin
from clockwork.reconcile import Event

if TYPE_CHECKING:
    from clockwork.operator.driver import OperatorDriver

WORKFLOW_LABEL = "clockwork.dev/workflow"
STEP_LABEL = "clockwork.dev/step"
# A Pending Task looks at the nodes again at least this often (slots freed and node
# phase changes wake it at once).
TASK_RETRY_SECONDS = 3.0
ROLLOUT_PHASE_CODES = {"Pending": 0, "Progressing": 1, "Paused": 2, "Completed": 3, "Failed": 4,
                       "RollingBack": 5, "RolledBack": 6}  # fmt: skip
log = logging.getLogger("clockwork.operator")


@dataclass
class Running:
    """Work of one object going on in this process."""

    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    future: asyncio.Future[Any] | None = None
    # Rollouts: the newest spec seen while a version rolls out, validated, with its body
    # (it supersedes or pauses at the next batch boundary).
    latest: tuple[Rollout, Mapping[str, Any]] | None = None


@dataclass
class FollowedWorkflow:
    workflow: Workflow
    body: Mapping[str, Any]


class FleetWork:
    def __init__(self, driver: OperatorDriver) -> None:
        self.driver = driver
        self.slots = tasks.Slots()
        self.running: dict[str, Running] = {}
        # Tasks this process has started: one found Running that is not here ran under an earlier operator.
        self.tasks_seen: set[str] = set()
        self.workflows: dict[str, FollowedWorkflow] = {}

    async def aclose(self) -> None:
        futures = [w.future for w in self.running.values() if w.future is not None]
        for future in futures:
            future.cancel()
        await asyncio.gather(*futures, return_exceptions=True)

    def _start(self, uid: str, work: Running, job: Coroutine[Any, Any, Any]) -> None:
        """Run ``job`` in the background as the work of object ``uid``."""
        self.running[uid] = work
        work.future = asyncio.ensure_future(job)

        def done(future: asyncio.Future[Any]) -> None:
            if self.running.get(uid) is work:
                del self.running[uid]
            if not future.cancelled() and future.exception() is not None:
                log.error("fleet work %s failed", uid, exc_info=future.exception())

        work.future.add_done_callback(done)

    def _valid(self, model: type[Any], body: Mapping[str, Any]) -> Any | None:
        try:
            return model.model_validate({k: v for k, v in body.items() if k != "status"})
        except ValidationError as exc:
            self.driver._post(body, [Event("Warning", "Invalid", "; ".join(describe_validation_error(exc, "spec")))])
            return None

    def _saver(self, plural: str, body: Mapping[str, Any], previous: dict[str, Any]) -> Any:
        """Writes a fleet status: ours, with nulls for what an earlier status had and this one drops."""
        state = self.driver.state(body)
        meta = ObjectMeta.model_validate(body["metadata"])

        async def save(current: Any) -> None:
            patch = current.wire()
            for key in previous:
                patch.setdefault(key, None)
            await self.driver.patch_status(plural, meta.namespace, meta.name, patch)
            state.status = current.wire()

        return save

    def _previous(self, body: Mapping[str, Any]) -> dict[str, Any]:
        state = self.driver.state(body)
        return dict(state.status if state.status is not None else (body.get("status") or {}))

    # --- Tasks ---------------------------------------------------------------------------

    async def task(self, body: Mapping[str, Any]) -> TaskStatus | None:
        """A Task's create/update/resume: start its run, or cancel the one going on. Never waits for it."""
        task: Task | None = self._valid(Task, body)
        if task is None:
            return None
        meta = task.metadata
        uid = meta.uid or f"{meta.namespace}-{meta.name}"
        going = self.running.get(uid)
        if going is not None:
            if task.spec.cancel:
                going.cancel.set()
            return None
        previous = self._previous(body)
        status = TaskStatus.model_validate(previous) if previous else TaskStatus()
        if status.finished:
            return status
        save = self._saver("tasks", body, previous)
        # Found Assigned or Running but not started here: it ran under an operator that stopped.
        # Its run is tracked on the node, so it is attached to, not run again (tasks.resume).
        resumed = status.phase in ("Assigned", "Running") and uid not in self.tasks_seen and status.node is not None
        self.tasks_seen.add(uid)
        if task.spec.cancel and not resumed:
            status.phase, status.message, status.completion_time = "Cancelled", "cancelled before it ran", utcnow()
            await save(status)
            self.driver._post(body, [Event("Normal", "Cancelled", status.message)])
            return status

        def event(type_: Any, reason: str, message: str) -> None:
            self.driver._post(body, [Event(type_, reason, message)])

        async def nodes() -> tasks.Nodes:
            return await self.driver.nodes.list(meta.namespace)

        run = tasks.TaskRun(
            self.driver.runners["pyinfra"], self.driver.settings.connect_timeout, nodes, self.driver.nodes.host,
            save, event, origin=Origin(namespace=meta.namespace, kind="Task", name=meta.name, uid=meta.uid),
            wait_seconds=TASK_RETRY_SECONDS,
        )  # fmt: skip
        if resumed and task.spec.cancel:
            run.cancel.set()  # cancelled while no operator ran: stopped where it runs
        work = tasks.resume if resumed else tasks.place_and_run
        self._start(uid, Running(run.cancel), work(task, status, uid, self.slots, run))
        return status

    def task_deleted(self, body: Mapping[str, Any]) -> None:
        """A deleted Task stops where it runs (a Workflow's delete takes its Tasks this way)."""
        meta = body.get("metadata") or {}
        going = self.running.get(str(meta.get("uid") or f"{meta.get('namespace')}-{meta.get('name')}"))
        if going is not None:
            going.cancel.set()
        self.driver.forget(body)

    # --- Rollouts ------------------------------------------------------------------------

    async def rollout(self, body: Mapping[str, Any]) -> None:
        """A Rollout's create/update/resume: start rolling it out, or hand the running one its newer spec."""
        rollout: Rollout | None = self._valid(Rollout, body)
        if rollout is None:
            return
        uid = rollout.metadata.uid or f"{rollout.metadata.namespace}-{rollout.metadata.name}"
        going = self.running.get(uid)
        if going is not None:
            going.latest = (rollout, body)  # seen at its next batch boundary: a new version supersedes, pause pauses
            return
        work = Running()
        self._start(uid, work, self._roll(rollout, body, work))

    async def _roll(self, rollout: Rollout, body: Mapping[str, Any], work: Running) -> RolloutStatus:
        """Roll out, and again with the newest spec if one came while it ran."""
        while True:
            final = await self._roll_once(rollout, body, work)
            if work.latest is None:
                return final
            (rollout, body), work.latest = work.latest, None

    async def _roll_once(self, rollout: Rollout, body: Mapping[str, Any], work: Running) -> RolloutStatus:
        meta = rollout.metadata
        previous = self._previous(body)
        status = RolloutStatus.model_validate(previous) if previous else RolloutStatus()
        resolution, inventory = await self.driver.nodes.resolve(rollout.spec.target(), body.get("metadata") or {})

        async def latest() -> Rollout | None:
            return work.latest[0] if work.latest is not None else None

        # No node to go to (resolution.error included) is the rollout's own verdict: NoTargets.
        origin = Origin(namespace=meta.namespace, kind="Rollout", name=meta.name, uid=meta.uid)
        run = rollouts.RolloutRun(self.driver, resolution.targets, resolution.skipped, inventory,
                                  self._saver("rollouts", body, previous), latest, origin=origin,
                                  phases=resolution.phases)  # fmt: skip
        try:
            final = await rollouts.run(rollout, status, run, meta.generation or 1)
        finally:
            self.driver._post(body, run.events)
            for event in run.events:
                metrics.EVENTS.labels(event.type, event.reason).inc()
        metrics.ROLLOUT_PHASE.labels(meta.namespace, meta.name).set(ROLLOUT_PHASE_CODES.get(final.phase or "", 0))
        return final

    # --- Workflows -----------------------------------------------------------------------

    async def workflow(self, body: Mapping[str, Any]) -> WorkflowStatus | None:
        """A Workflow's create/resume: what its Tasks say so far (one list), then one step."""
        workflow: Workflow | None = self._valid(Workflow, body)
        if workflow is None or self.driver.fleet is None:
            return None
        uid = workflow.metadata.uid or ""
        self.workflows[uid] = FollowedWorkflow(workflow, body)
        observed: dict[str, TaskStatus] = {}
        for found in await self.driver.fleet.list_objects("tasks", workflow.metadata.namespace):
            step = _step_of(found, uid)
            if step is not None and found.get("status"):
                observed[step] = TaskStatus.model_validate(found["status"])
        return await self._advance(uid, observed)

    async def workflow_task_changed(self, task_body: Mapping[str, Any]) -> None:
        """A Task of a followed Workflow changed: record its status and advance the Workflow."""
        owner = next((o for o in (task_body.get("metadata") or {}).get("ownerReferences") or []
                      if o.get("kind") == "Workflow" and o.get("uid") in self.workflows), None)  # fmt: skip
        step = _step_of(task_body, owner.get("uid") if owner else None)
        if owner is None or step is None or not task_body.get("status"):
            return
        await self._advance(owner["uid"], {step: TaskStatus.model_validate(task_body["status"])})

    async def _advance(self, uid: str, observed: dict[str, TaskStatus]) -> WorkflowStatus | None:
        followed = self.workflows.get(uid)
        if followed is None:
            return None
        workflow, body = followed.workflow, followed.body
        state = self.driver.state(body)
        async with state.lock:
            previous = self._previous(body)
            status = WorkflowStatus.model_validate(previous) if previous else WorkflowStatus()
            if status.phase in ("Succeeded", "Failed"):
                self.workflows.pop(uid, None)
                return status
            for ready in workflows.step(workflow, status, observed):
                await self._create_step_task(workflow, ready, body)
            if status.wire() != previous:
                await self._saver("workflows", body, previous)(status)
            if status.phase in ("Succeeded", "Failed"):
                self.workflows.pop(uid, None)
                kind: Any = "Normal" if status.phase == "Succeeded" else "Warning"
                self.driver._post(body, [Event(kind, status.phase, status.message)])
            return status

    async def _create_step_task(self, workflow: Workflow, step: WorkflowStep, body: Mapping[str, Any]) -> None:
        """The step's Task, owned by the Workflow (the garbage collector takes it with the Workflow)."""
        assert self.driver.fleet is not None
        meta = workflow.metadata
        name = workflows.task_name(workflow, step)
        owner = OwnerReference(api_version=API_VERSION, kind="Workflow", name=meta.name, uid=meta.uid or "",
                               controller=True, block_owner_deletion=True)  # fmt: skip
        task = Task(
            metadata=ObjectMeta(name=name, namespace=meta.namespace, owner_references=[owner],
                                labels={WORKFLOW_LABEL: meta.name, STEP_LABEL: step.name}),
            spec=step.task,
        )  # fmt: skip
        await self.driver.fleet.create_object("tasks", meta.namespace, task.wire())
        self.driver._post(body, [Event("Normal", "StepStarted", f"step {step.name}: Task {name}")])

    async def delete_workflow_tasks(self, body: Mapping[str, Any]) -> None:
        """A deleted Workflow takes its Tasks with it (running ones are stopped on their nodes)."""
        meta = body.get("metadata") or {}
        uid = meta.get("uid")
        self.workflows.pop(str(uid), None)
        if self.driver.fleet is not None:
            namespace = meta.get("namespace", "default")
            for task in await self.driver.fleet.list_objects("tasks", namespace):
                if _step_of(task, uid) is not None:
                    await self.driver.fleet.delete_object("tasks", namespace, task["metadata"]["name"])
        self.driver.forget(body)


def _step_of(task_body: Mapping[str, Any], workflow_uid: str | None) -> str | None:
    """The step a Task body runs for the Workflow with ``workflow_uid``, if it is one of its steps."""
    meta = task_body.get("metadata") or {}
    owned = any(o.get("uid") == workflow_uid for o in meta.get("ownerReferences") or [])
    step = (meta.get("labels") or {}).get(STEP_LABEL)
    return step if owned and workflow_uid else None
