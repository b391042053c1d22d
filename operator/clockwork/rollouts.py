"""Carries out one Rollout: deploying a batch, its health gate, and rolling back. Shared by
both drivers. What to do next is decided in :mod:`clockwork.fleet.rolling` (pure, tested as
data); this module does it and saves the status after each step.

Each resource of a version is reconciled through the same core as any resource
(complete -> guard -> compile -> apply -> check) with the batch's nodes as its
targets, so a rollout applies exactly what the resource would. Each template is
the owner of what it claims on a node (``Rollout/<ns>/<name>/<Kind>/<name>``):
rolling back converges the previous version on the touched nodes (releasing what
the newer version claimed and the older does not name), and releases what the new
version added; destroy releases everything the rollout's templates claimed.
A selector that leaves no node to go to is no success: phase Failed, Ready reason
NoTargets (:func:`clockwork.fleet.rolling.no_targets` says why), and the next run tries
the version again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from clockwork import kinds, metrics
from clockwork.api.base import utcnow
from clockwork.api.registry import KINDS, status_model
from clockwork.api.rollout import ResourceTemplate, Rollout, RolloutStatus
from clockwork.completion import pipeline
from clockwork.completion.base import Completion, CompletionContext
from clockwork.engine import DriverBase, Engine
from clockwork.fleet import rolling
from clockwork.plan import HostSpec, Operation, Origin, RunRequest
from clockwork.reconcile import Complete, Event, Inputs

DEFAULT_GATE_TIMEOUT = 300
DEFAULT_GATE_INTERVAL = 5
UNHEALTHY = ": unhealthy: "


@dataclass
class RolloutRun:
    """What a driver hands the rollout: nodes, how to reach them, and how to save."""

    driver: DriverBase
    targets: list[str]
    skipped: dict[str, str]
    inventory: dict[str, HostSpec]
    save: Callable[[RolloutStatus], Awaitable[None]]
    # Re-read the object between batches: a new version supersedes, pause stops.
    latest: Callable[[], Awaitable[Rollout | None]] | None = None
    events: list[Event] = field(default_factory=list)
    origin: Origin | None = None
    # The phase of each node the selector named (None: never probed), for the messages.
    phases: dict[str, str | None] = field(default_factory=dict)
    # Told each Event's message as it happens (a person watching local mode).
    progress: Callable[[str], None] | None = None

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append(Event(type_, reason, message[:1000]))  # type: ignore[arg-type]
        if self.progress is not None:
            self.progress(message)


async def run(rollout: Rollout, status: RolloutStatus, ctx: RolloutRun, generation: int = 1) -> RolloutStatus:
    """Carry out what :mod:`clockwork.fleet.rolling` decides, saving the status after each step,
    until it has nothing more to do for this version now."""
    nodes = rolling.Nodes(ctx.targets, ctx.skipped, ctx.phases)
    latest = await ctx.latest() if ctx.latest else None
    step = rolling.step(rollout, status, nodes, utcnow(), latest, generation)
    while True:
        status = await _record(ctx, step)
        action = step.action
        if isinstance(action, rolling.Deploy):
            problems = await _gate(ctx, rollout, action.nodes, rollout.spec.resources)
            metrics.ROLLOUT_BATCHES.labels("failed" if problems else "healthy").inc()
            step = rolling.batch_done(rollout, status, action, problems, status.batches or 0, utcnow())
            if step.action is None and not problems:
                status = await _record(ctx, step)
                latest = await ctx.latest() if ctx.latest else None
                step = rolling.step(rollout, status, nodes, utcnow(), latest, generation)
        elif isinstance(action, rolling.RollBack):
            problems = await _roll_back(ctx, rollout, status, action)
            step = rolling.rolled_back(status, action, problems, utcnow())
            metrics.ROLLOUT_ROLLBACKS.labels("rolledBack" if step.status.phase == "RolledBack" else "failed").inc()
        else:
            return status


async def _record(ctx: RolloutRun, step: rolling.Step) -> RolloutStatus:
    for event in step.events:
        ctx.event(event.type, event.reason, event.message)
    if step.save:
        await ctx.save(step.status)
    return step.status


async def _converge(
    ctx: RolloutRun,
    rollout: Rollout,
    nodes: list[str],
    template: ResourceTemplate,
    extra: list[Any] | None = None,
) -> dict[str, str]:
    """One resource on some nodes through the reconcile core; the nodes that failed, and why."""
    info = KINDS[template.kind]
    raw: dict[str, Any] = dict(template.spec)
    raw.setdefault("remediation", {"enabled": False})  # the gate judges; rolling back is the remedy
    if extra:
        health = dict(raw.get("health") or {})
        health["assertions"] = list(health.get("assertions") or []) + extra
        raw["health"] = health
    spec = info.spec_model.model_validate(raw, by_alias=True, by_name=False)
    name = template.name
    completer = ctx.driver.completer_for(spec)

    async def complete(action: Complete) -> Completion:
        context = CompletionContext(namespace=rollout.metadata.namespace, name=name)
        return await pipeline.complete(info, action.spec, context, completer, identity=action.spec_hash)

    inputs = Inputs(
        info=info, spec=spec, ref=owner(rollout, template), exclusive=True, generation=1, now=utcnow(),
        intent="converge", targets=list(nodes),
        inventory=ctx.inventory, always_apply=True, run_timeout=ctx.driver.settings.run_timeout,
        connect_timeout=ctx.driver.settings.connect_timeout, completer=ctx.driver.completer_key(spec),
        policy=ctx.driver.settings.policy, default_interval=0,
    )  # fmt: skip
    result = await Engine(ctx.driver.runners, complete, ctx.driver.slots, ctx.origin).run(inputs, status_model(info)())
    final = result.step.status
    problems: dict[str, str] = {}
    completed = final.condition("Completed")
    if completed is not None and completed.status != "True":
        return {n: f"{template.kind}/{template.name}: {completed.message}" for n in nodes}
    for name_ in nodes:
        node = next((n for n in final.nodes if n.name == name_), None)
        if node is None or node.last_result == "failed":
            why = node.message if node is not None else "not applied"
            problems[name_] = f"{template.kind}/{template.name}: {why}"
        elif node.healthy is False:
            failing = [
                r.message for r in (final.health.results if final.health else []) if r.node == name_ and not r.ok
            ]
            problems[name_] = f"{template.kind}/{template.name}{UNHEALTHY}{'; '.join(failing) or node.message}"
    return problems


def owner(rollout: Rollout, template: ResourceTemplate) -> str:
    """Who owns what a template claims on a node."""
    return f"Rollout/{rollout.metadata.namespace}/{rollout.metadata.name}/{template.kind}/{template.name}"


async def _release(
    ctx: RolloutRun, rollout: Rollout, nodes: list[str], templates: list[ResourceTemplate]
) -> dict[str, str]:
    """Release everything each template claimed on the nodes: what it made goes, what it replaced comes back."""
    problems: dict[str, str] = {}
    for template in templates:
        hosts = [ctx.inventory[n] for n in nodes if n in ctx.inventory and n not in problems]
        if not hosts:
            continue
        settings = ctx.driver.settings
        request = RunRequest(hosts=hosts, operations=await _destroy_operations(ctx, rollout, template),
                             timeout_seconds=settings.run_timeout, connect_timeout_seconds=settings.connect_timeout,
                             origin=ctx.origin)  # fmt: skip
        async with ctx.driver.slots.hold([h.name for h in hosts]):
            result = await ctx.driver.runners["pyinfra"].run(request)
        for host in hosts:
            found = result.host(host.name)
            if found is None or found.outcome == "failed":
                why = (found.error if found else None) or result.error or "not run"
                problems[host.name] = f"{template.kind}/{template.name}: {why}"
    for name in nodes:
        if name not in ctx.inventory:
            problems[name] = "cannot reach the node to release what was applied there"
    return problems


async def _destroy_operations(ctx: RolloutRun, rollout: Rollout, template: ResourceTemplate) -> list[Operation]:
    """What destroying the template's resource runs: its kind's own steps (a Workload's units
    are stopped first), then the release of everything the template claimed on the node."""
    release = Operation(id="release", op="clockwork.release", args={"owner": owner(rollout, template)},
                        description=f"release what {template.kind}/{template.name} claimed")  # fmt: skip
    info = KINDS[template.kind]
    try:
        spec = info.spec_model.model_validate(dict(template.spec), by_alias=True, by_name=False)
        context = CompletionContext(namespace=rollout.metadata.namespace, name=template.name)
        completion = await pipeline.complete(info, spec.wire(), context, ctx.driver.completer_for(spec))
        resolved = info.resolved_model.model_validate(completion.completed, by_alias=True, by_name=False)
    except ValidationError:
        return [release]  # nothing but the claims can be known: those are enough to put things back
    return [*kinds.KINDS[template.kind].compiler.destroy(resolved), release]


async def _deploy(
    ctx: RolloutRun,
    rollout: Rollout,
    nodes: list[str],
    resources: list[ResourceTemplate],
    extra: list[Any] | None = None,
) -> dict[str, str]:
    """Apply and check every resource on the nodes (resources in order, nodes in parallel)."""
    problems: dict[str, str] = {}
    for i, template in enumerate(resources):
        todo = [n for n in nodes if n not in problems]
        if todo:
            problems.update(await _converge(ctx, rollout, todo, template, extra=extra if i == 0 else None))
    return problems


async def _gate(
    ctx: RolloutRun, rollout: Rollout, nodes: list[str], resources: list[ResourceTemplate]
) -> dict[str, str]:
    """Deploy the batch, then look again until every node is healthy or the gate's time is up.

    An apply that fails ends the batch at once; only unhealthy nodes are waited for.
    """
    gate = rollout.spec.health_gate
    timeout = (gate.timeout_seconds if gate else None) or DEFAULT_GATE_TIMEOUT
    interval = (gate.interval_seconds if gate else None) or DEFAULT_GATE_INTERVAL
    extra = [a.wire() for a in gate.assertions] if gate else []
    deadline = time.monotonic() + timeout
    problems = await _deploy(ctx, rollout, nodes, resources, extra)
    while problems and all(UNHEALTHY in p for p in problems.values()) and time.monotonic() + interval < deadline:
        await asyncio.sleep(interval)
        problems = await _deploy(ctx, rollout, sorted(problems), resources, extra)
    if problems and all(UNHEALTHY in p for p in problems.values()):
        return {n: f"health gate ({timeout}s): {p}" for n, p in problems.items()}
    return problems


async def _roll_back(
    ctx: RolloutRun, rollout: Rollout, status: RolloutStatus, action: rolling.RollBack
) -> dict[str, str]:
    """Each group of nodes back on its previous version: release what the new version added,
    converge what the previous one had. The nodes where that failed, and why."""
    problems: dict[str, str] = {}
    for previous, names in action.groups.items():
        before = status.resources_of(previous) or []
        keep = {(r.kind, r.name) for r in before}
        added = [r for r in rollout.spec.resources if (r.kind, r.name) not in keep]
        failed = await _release(ctx, rollout, names, list(reversed(added)))
        failed.update(await _deploy(ctx, rollout, [n for n in names if n not in failed], before))
        problems.update(failed)
    return problems


async def remove(rollout: Rollout, status: RolloutStatus, ctx: RolloutRun) -> dict[str, str]:
    """Take what the rollout put on its nodes off them again (`clockwork destroy`)."""
    names = [n.name for n in status.nodes if n.version is not None and n.name in ctx.targets]
    # Every template any recorded version had: each owns its claims, whichever version made them.
    resources: dict[tuple[str, str], ResourceTemplate] = {}
    for template in [r for v in status.versions for r in v.resources] + list(rollout.spec.resources):
        resources.setdefault((template.kind, template.name), template)
    return await _release(ctx, rollout, names, list(reversed(resources.values()))) if names else {}
