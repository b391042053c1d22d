"""Drives one Rollout: batches, the health gate, and rolling back. Shared by both drivers.

Each resource of a version is reconciled through the same core as any resource
(complete -> guard -> compile -> apply -> check) with the batch's nodes as its
targets, so a rollout applies exactly what the resource would. Each template is
the owner of what it claims on a node (``Rollout/<ns>/<name>/<Kind>/<name>``):
rolling back converges the previous version on the touched nodes (releasing what
the newer version claimed and the older does not name), and releases what the new
version added; destroy releases everything the rollout's templates claimed.
A selector that leaves no node to go to is no success: phase Failed, Ready reason
NoTargets (:func:`no_targets` says why), and the next run tries the version again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from clockwork import kinds, metrics
from clockwork.api.base import utcnow
from clockwork.api.registry import KINDS, status_model
from clockwork.api.rollout import ResourceTemplate, Rollout, RolloutStatus
from clockwork.completion import pipeline
from clockwork.completion.base import Completion, CompletionContext
from clockwork.engine import DriverBase, Engine
from clockwork.fleet import batches
from clockwork.plan import HostSpec, Operation, Origin, RunRequest
from clockwork.reconcile import Complete, Event, Inputs
from clockwork.reconcile.conditions import READY, get, set_condition

DEFAULT_GATE_TIMEOUT = 300
DEFAULT_GATE_INTERVAL = 5
FINISHED = ("Completed", "Failed", "RolledBack")
UNHEALTHY = ": unhealthy: "
# The Ready reason of a rollout that found no node to go to (phase Failed; the next run tries again).
NO_TARGETS = "NoTargets"


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


def selector_text(selector: dict[str, str]) -> str:
    """``site=lab,tier=edge``: a node selector as it is written on the command line."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _phase(phases: dict[str, str | None], name: str) -> str:
    return phases.get(name) or "Unknown"


def skipped_summary(skipped: dict[str, str], phases: dict[str, str | None]) -> str:
    """``node-a (Offline), node-b (Stale)``: each skipped node with the phase it really has."""
    return ", ".join(f"{name} ({_phase(phases, name)})" for name in sorted(skipped))


def no_targets(
    selector: dict[str, str], namespace: str, targets: list[str], skipped: dict[str, str], phases: dict[str, str | None]
) -> str | None:
    """Why a rollout has no node to go to (naming ``spec.nodeSelector``); None when it has one."""
    if targets:
        return None
    shown = selector_text(selector)
    if not skipped:
        return f"spec.nodeSelector: no EdgeNode in namespace {namespace!r} has the labels {shown}"
    why = "; ".join(f"{name} ({_phase(phases, name)}): {skipped[name]}" for name in sorted(skipped))
    return f"spec.nodeSelector: no EdgeNode with the labels {shown} can be rolled out to: {why}"


def completed_message(version: str, targets: list[str], skipped: dict[str, str], phases: dict[str, str | None]) -> str:
    message = f"version {version} on {len(targets)} node(s)"
    if skipped:
        message += f"; {len(skipped)} node(s) skipped: {skipped_summary(skipped, phases)}"
    return message


def found_no_targets(status: RolloutStatus) -> bool:
    """The last run found no node: the next one looks again (it is not this version's end)."""
    ready = get(status.conditions, READY)
    return status.phase == "Failed" and ready is not None and ready.reason == NO_TARGETS


async def run(rollout: Rollout, status: RolloutStatus, ctx: RolloutRun, generation: int = 1) -> RolloutStatus:
    spec = rollout.spec
    retry = found_no_targets(status)
    if status.version == spec.version and status.phase in FINISHED and not retry:
        return status  # this version is done; a new version starts a new rollout
    problem = no_targets(spec.node_selector, rollout.metadata.namespace, ctx.targets, ctx.skipped, ctx.phases)
    if problem is not None:
        # Nothing was touched: the nodes keep their state, and the next run tries this version again.
        status.version, status.phase, status.message = spec.version, "Failed", problem
        status.observed_generation, status.finished = generation, utcnow()
        _set(status, NO_TARGETS, problem)
        ctx.event("Warning", NO_TARGETS, problem)
        await ctx.save(status)
        return status
    if status.version != spec.version or status.phase is None or retry:
        _start(rollout, status, ctx)
    status.observed_generation = generation
    plan = batches.plan(
        [n for n in ctx.targets], (spec.strategy.batch_size or spec.strategy.max_unavailable) if spec.strategy else None
    )
    status.batches = len(plan)
    await ctx.save(status)
    for index, batch in enumerate(plan, start=1):
        if all(status.node(n).state == "healthy" and status.node(n).version == spec.version for n in batch):
            continue  # done before (a resumed rollout)
        latest = await ctx.latest() if ctx.latest else None
        if latest is not None and latest.spec.version != spec.version:
            status.message = f"superseded by version {latest.spec.version} before batch {index}"
            ctx.event("Normal", "Superseded", status.message)
            _set(status, "Failed", status.message)
            status.phase = "Failed"
            await ctx.save(status)
            return status
        if latest.spec.pause if latest is not None else spec.pause:
            status.phase, status.message = "Paused", f"paused before batch {index} of {len(plan)}"
            _set(status, "Paused", status.message)
            await ctx.save(status)
            return status
        status.phase, status.batch = "Progressing", index
        status.message = f"batch {index} of {len(plan)}: {', '.join(batch)}"
        for name in batch:
            node = status.node(name)
            node.state, node.batch, node.message = "deploying", index, ""
        ctx.event("Normal", "BatchStarted", status.message)
        await ctx.save(status)
        problems = await _gate(ctx, rollout, batch, spec.resources)
        if problems:
            for name, problem in problems.items():
                node = status.node(name)
                node.state, node.message = "failed", problem
            for name in batch:
                if name not in problems:
                    status.node(name).state = "healthy"
                    status.node(name).version = spec.version
            reason = "; ".join(f"{n}: {p}" for n, p in sorted(problems.items()))
            ctx.event("Warning", "BatchFailed", f"batch {index}: {reason}")
            metrics.ROLLOUT_BATCHES.labels("failed").inc()
            if spec.auto_rollback is False:
                status.phase, status.message = "Failed", f"batch {index} failed: {reason}"
                _set(status, "Failed", status.message)
                status.finished = utcnow()
                await ctx.save(status)
                return status
            await _rollback(ctx, rollout, status, index, reason)
            return status
        for name in batch:
            node = status.node(name)
            node.state, node.version, node.message = "healthy", spec.version, ""
        ctx.event("Normal", "BatchHealthy", f"batch {index} of {len(plan)} is healthy")
        metrics.ROLLOUT_BATCHES.labels("healthy").inc()
        await ctx.save(status)
    status.phase = "Completed"
    status.message = completed_message(spec.version, ctx.targets, ctx.skipped, ctx.phases)
    status.finished = utcnow()
    _set(status, "Completed", status.message)
    ctx.event("Normal", "Completed", status.message)
    await ctx.save(status)
    return status


def _start(rollout: Rollout, status: RolloutStatus, ctx: RolloutRun) -> None:
    spec = rollout.spec
    status.record(spec.version, list(spec.resources))
    status.version, status.phase, status.batch, status.started, status.finished = (
        spec.version, "Progressing", 0, utcnow(), None
    )  # fmt: skip
    wanted = set(ctx.targets) | set(ctx.skipped)
    status.nodes = [n for n in status.nodes if n.name in wanted]
    for name in sorted(wanted):
        node = status.node(name)
        node.previous_version = node.version if node.state not in ("failed",) else node.previous_version
        node.state, node.batch, node.message = "pending", None, ""
    for name, why in sorted(ctx.skipped.items()):
        node = status.node(name)
        node.state, node.message = "skipped", why
    if ctx.skipped:
        ctx.event(
            "Warning",
            "NodesSkipped",
            "not rolled out to: "
            + "; ".join(f"{n} ({_phase(ctx.phases, n)}): {w}" for n, w in sorted(ctx.skipped.items())),
        )
    ctx.event("Normal", "Started", f"rolling out version {spec.version} to {len(ctx.targets)} node(s)")


def _set(status: RolloutStatus, reason: str, message: str) -> None:
    ok: Literal["True", "False"] = "True" if reason == "Completed" else "False"
    status.conditions = set_condition(
        status.conditions, READY, ok, reason, message, generation=status.observed_generation or 1, now=utcnow()
    )


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


async def _rollback(ctx: RolloutRun, rollout: Rollout, status: RolloutStatus, failed_batch: int, reason: str) -> None:
    spec = rollout.spec
    status.phase = "RollingBack"
    status.message = f"batch {failed_batch} failed ({reason}); rolling back"
    ctx.event("Warning", "RollingBack", status.message)
    await ctx.save(status)
    touched = [n for n in status.nodes if n.batch is not None and n.batch <= failed_batch]
    groups: dict[str | None, list[str]] = {}
    for node in touched:
        groups.setdefault(node.previous_version, []).append(node.name)
    leftovers: list[str] = []
    for previous, names in groups.items():
        before = status.resources_of(previous) or []
        keep = {(r.kind, r.name) for r in before}
        added = [r for r in spec.resources if (r.kind, r.name) not in keep]
        problems = await _release(ctx, rollout, names, list(reversed(added)))
        problems.update(await _deploy(ctx, rollout, [n for n in names if n not in problems], before))
        for name in names:
            node = status.node(name)
            if name in problems:
                node.state, node.message = "failed", f"rollback: {problems[name]}"
                leftovers.append(name)
            else:
                node.state, node.version, node.message = "rolledBack", previous, ""
    if leftovers:
        status.phase = "Failed"
        status.message = f"batch {failed_batch} failed ({reason}); rollback failed on {', '.join(leftovers)}"
    else:
        status.phase = "RolledBack"
        status.message = f"batch {failed_batch} failed ({reason}); {len(touched)} node(s) rolled back"
    status.finished = utcnow()
    metrics.ROLLOUT_ROLLBACKS.labels("rolledBack" if status.phase == "RolledBack" else "failed").inc()
    _set(status, status.phase, status.message)
    ctx.event("Warning", status.phase, status.message)
    await ctx.save(status)


async def remove(rollout: Rollout, status: RolloutStatus, ctx: RolloutRun) -> dict[str, str]:
    """Take what the rollout put on its nodes off them again (`clockwork destroy`)."""
    names = [n.name for n in status.nodes if n.version is not None and n.name in ctx.targets]
    # Every template any recorded version had: each owns its claims, whichever version made them.
    resources: dict[tuple[str, str], ResourceTemplate] = {}
    for template in [r for v in status.versions for r in v.resources] + list(rollout.spec.resources):
        resources.setdefault((template.kind, template.name), template)
    return await _release(ctx, rollout, names, list(reversed(resources.values()))) if names else {}
