"""kopf handlers: one set per kind, each a line that calls the driver.

No logic lives here. Temporary failures (a model endpoint down) become
kopf.TemporaryError so that kopf retries; a destroy that fails keeps the
finalizer the same way.
"""

from __future__ import annotations

from typing import Any

import kopf

from clockwork.api.base import GROUP, VERSION
from clockwork.api.registry import KINDS, KindInfo
from clockwork.operator.driver import OperatorDriver
from clockwork.operator.fleetwork import WORKFLOW_LABEL
from clockwork.reconcile import DEPENDENCY_RETRY_SECONDS


def register(registry: kopf.OperatorRegistry, driver: OperatorDriver) -> None:
    for info in KINDS.values():
        _register_kind(registry, driver, info)
    _register_edge_nodes(registry, driver)
    _register_rollouts(registry, driver)
    _register_tasks(registry, driver)
    _register_workflows(registry, driver)


def _register_workflows(registry: kopf.OperatorRegistry, driver: OperatorDriver) -> None:
    resource = (GROUP, VERSION, "workflows")

    @kopf.on.resume(*resource, registry=registry, id="workflows-resume")
    @kopf.on.create(*resource, registry=registry, id="workflows-create")
    async def start(body: kopf.Body, **_: Any) -> None:
        await driver.work.workflow(body)

    @kopf.on.delete(*resource, registry=registry, id="workflows-delete")
    async def delete(body: kopf.Body, **_: Any) -> None:
        await driver.work.delete_workflow_tasks(body)

    # A step's Task changed: its Workflow advances (no handler waits for the steps).
    @kopf.on.event(GROUP, VERSION, "tasks", registry=registry, id="workflows-steps",
                   labels={WORKFLOW_LABEL: kopf.PRESENT})  # fmt: skip
    async def step(body: kopf.Body, type: str | None, **_: Any) -> None:
        if type != "DELETED":
            await driver.work.workflow_task_changed(body)


def _register_tasks(registry: kopf.OperatorRegistry, driver: OperatorDriver) -> None:
    resource = (GROUP, VERSION, "tasks")

    # The handler starts the run (or cancels it) and returns: the run goes on in the background.
    @kopf.on.resume(*resource, registry=registry, id="tasks-resume")
    @kopf.on.create(*resource, registry=registry, id="tasks-create")
    @kopf.on.update(*resource, registry=registry, id="tasks-update", field="spec")
    async def run(body: kopf.Body, **_: Any) -> None:
        await driver.work.task(body)

    # optional: no finalizer, so a Task is never held up; a running one is stopped when seen going.
    @kopf.on.delete(*resource, registry=registry, id="tasks-delete", optional=True)
    async def delete(body: kopf.Body, **_: Any) -> None:
        driver.work.task_deleted(body)


def _register_rollouts(registry: kopf.OperatorRegistry, driver: OperatorDriver) -> None:
    # No finalizer: what a rollout put on the nodes stays when the Rollout is deleted.
    resource = (GROUP, VERSION, "rollouts")

    @kopf.on.resume(*resource, registry=registry, id="rollouts-resume")
    @kopf.on.create(*resource, registry=registry, id="rollouts-create")
    @kopf.on.update(*resource, registry=registry, id="rollouts-update", field="spec")
    async def roll(body: kopf.Body, **_: Any) -> None:
        await driver.work.rollout(body)


def _register_edge_nodes(registry: kopf.OperatorRegistry, driver: OperatorDriver) -> None:
    # No delete handler, so no finalizer: nothing on the machine belongs to the EdgeNode itself.
    resource = (GROUP, VERSION, "edgenodes")

    @kopf.on.resume(*resource, registry=registry, id="edgenodes-resume")
    @kopf.on.create(*resource, registry=registry, id="edgenodes-create")
    @kopf.on.update(*resource, registry=registry, id="edgenodes-update", field="spec")
    async def probe(body: kopf.Body, **_: Any) -> None:
        driver.state(body).poke.set()  # the heartbeat probes now

    @kopf.daemon(*resource, registry=registry, id="edgenodes-heartbeat", cancellation_timeout=5.0)
    async def heartbeat(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
        await driver.nodes.run_daemon(body, stopped)


def _register_kind(registry: kopf.OperatorRegistry, driver: OperatorDriver, info: KindInfo) -> None:
    resource = (GROUP, VERSION, info.plural)
    retry = float(driver.settings.retry_seconds)

    @kopf.on.resume(*resource, registry=registry, id=f"{info.plural}-resume")
    @kopf.on.create(*resource, registry=registry, id=f"{info.plural}-create")
    @kopf.on.update(*resource, registry=registry, id=f"{info.plural}-update")
    async def converge(body: kopf.Body, **_: Any) -> None:
        outcome = await driver.converge(info, body)
        if outcome.temporary_error:
            raise kopf.TemporaryError(outcome.temporary_error, delay=retry)
        if outcome.waiting_for:
            raise kopf.TemporaryError(outcome.waiting_for, delay=DEPENDENCY_RETRY_SECONDS)

    @kopf.on.delete(*resource, registry=registry, id=f"{info.plural}-delete")
    async def destroy(body: kopf.Body, **_: Any) -> None:
        dependents = await driver.dependents(info.kind, body)
        if dependents:
            message = "waiting for dependents to be deleted first: " + ", ".join(dependents)
            driver.post_event(body, "Normal", "WaitingForDependents", message)
            raise kopf.TemporaryError(message, delay=DEPENDENCY_RETRY_SECONDS)
        outcome = await driver.destroy(info, body)
        if outcome.result is None or not outcome.result.forgotten:
            ready = outcome.status.condition("Ready")
            raise kopf.TemporaryError(ready.message if ready else "destroy failed", delay=retry)
