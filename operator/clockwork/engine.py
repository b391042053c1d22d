"""Drives one reconcile pass: step, perform the actions, observe, step again.

Shared by both drivers (the kopf operator and local mode): they differ in where
status lives and how completions are cached, not in how a pass runs. Nothing here
decides *what* to do — that is :mod:`clockwork.reconcile`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from clockwork import health, kinds, metrics
from clockwork.api.common import DeployableSpec, ResourceStatus
from clockwork.api.edgenode import EdgeNode
from clockwork.completion import configured_completer
from clockwork.completion.base import Completer, Completion, completer_id
from clockwork.config import Settings
from clockwork.fleet import edgenodes
from clockwork.plan import HostSpec, Origin, RunRequest, RunResult
from clockwork.reconcile import Apply, Check, Complete, Destroy, Forget, Inputs, Observations, Step, step
from clockwork.runners.base import Runner
from clockwork.runners.pyinfra import PyinfraRunner

MAX_STEPS = 16
# Other objects on the same target a completion is told about (dependencies first).
RELATED_LIMIT = 20

CompleteFn = Callable[[Complete], Awaitable[Completion]]
# What each action is doing, in a word, for a driver that shows progress.
# Pauses between the checks of a resource that is still coming up after an apply.
STARTUP_FIRST_PAUSE = 0.5
STARTUP_MAX_PAUSE = 4.0

DOING = {Complete: "completing", Apply: "applying", Check: "checking", Destroy: "destroying"}


class UnavailableRunner:
    """Stands in for a runner that this mode cannot offer, with the reason."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    async def run(self, request: RunRequest) -> RunResult:
        return RunResult.failed(request.hosts, self.reason)


@dataclass
class PassResult:
    step: Step
    observations: Observations
    performed: list[Any] = field(default_factory=list)
    forgotten: bool = False

    @property
    def completion_asked(self) -> bool:
        return any(isinstance(a, Complete) for a in self.performed)


class NodeSlots:
    """At most ``maxConcurrentRuns`` runs at once per node, across resources.

    Slots of a multi-node run are taken in name order, so two runs over the same
    nodes cannot each hold what the other waits for.
    """

    def __init__(self, default: int = 2) -> None:
        self.default = default
        self._limits: dict[str, int] = {}
        self._semaphores: dict[tuple[str, int], asyncio.Semaphore] = {}

    def set_limit(self, node: str, limit: int) -> None:
        self._limits[node] = limit

    def _semaphore(self, node: str) -> asyncio.Semaphore:
        key = (node, self._limits.get(node, self.default))
        if key not in self._semaphores:
            self._semaphores[key] = asyncio.Semaphore(key[1])
        return self._semaphores[key]

    @contextlib.asynccontextmanager
    async def hold(self, nodes: list[str]) -> AsyncIterator[None]:
        held: list[asyncio.Semaphore] = []
        try:
            for node in sorted(set(nodes)):
                if node.startswith("@"):
                    continue  # the local machine is not an EdgeNode
                semaphore = self._semaphore(node)
                await semaphore.acquire()
                held.append(semaphore)
            yield
        finally:
            for semaphore in held:
                semaphore.release()


class DriverBase:
    """What both drivers share: the runners, the completer, and choosing per resource."""

    def __init__(self, settings: Settings, runner: Runner | None, completer: Completer | None, job: Runner) -> None:
        self.settings = settings
        self.completer = completer or configured_completer(settings, kinds.OFFLINE_RULES)
        # A runner the driver starts itself keeps warm workers; the driver closes it.
        self._own_runner: PyinfraRunner | None = None
        if runner is None:
            runner = self._own_runner = PyinfraRunner(warm=settings.warm_workers)
        self.runners: dict[str, Runner] = {"pyinfra": runner, "job": job}
        self.slots = NodeSlots()

    async def aclose(self) -> None:
        """Release what the driver holds: the completer's connections, warm workers."""
        await self.completer.aclose()
        if self._own_runner is not None:
            await self._own_runner.aclose()

    def admit(
        self, resolution: edgenodes.Resolution, inventory: dict[str, HostSpec], node: EdgeNode, host: HostSpec | str
    ) -> None:
        """One EdgeNode for a run: its slot limit, and its HostSpec in the inventory, or, when it
        cannot be reached (``host`` says why), skipped with the reason if the target named it."""
        self.slots.set_limit(node.metadata.name, node.spec.effective_max_runs)
        if isinstance(host, str):
            if node.metadata.name in resolution.targets:
                resolution.targets.remove(node.metadata.name)
                resolution.skipped[node.metadata.name] = host
        else:
            inventory[node.metadata.name] = host

    def completer_for(self, spec: DeployableSpec) -> Completer | None:
        """None when the user switched completion off: defaults only."""
        if spec.completion is not None and spec.completion.mode == "off":
            return None
        return self.completer

    def completer_key(self, spec: DeployableSpec) -> str:
        """The cache identity of the completer this resource gets."""
        completer = self.completer_for(spec)
        return completer_id(completer.name, completer.model) if completer else "defaults"


class Engine:
    def __init__(
        self,
        runners: dict[str, Runner],
        complete: CompleteFn,
        slots: NodeSlots | None = None,
        origin: Origin | None = None,
        doing: Callable[[str], None] | None = None,
    ) -> None:
        self.runners = runners
        self.complete = complete
        self.slots = slots or NodeSlots()
        self.origin = origin
        # Told what each action does ("applying") as it starts: progress, nothing else.
        self.doing = doing

    async def run(self, inputs: Inputs, status: ResourceStatus[Any]) -> PassResult:
        obs = Observations()
        result = PassResult(step(inputs, status, obs), obs)
        for _ in range(MAX_STEPS):
            current = result.step
            if current.done:
                return result
            for action in current.actions:
                result.performed.append(action)
                if isinstance(action, Forget):
                    result.forgotten = True
                    return result
                await self._perform(action, inputs, current, obs)
            result.step = step(inputs, status, obs)
        raise RuntimeError(f"{inputs.info.kind}: reconcile did not settle after {MAX_STEPS} steps")

    async def _perform(self, action: Any, inputs: Inputs, current: Step, obs: Observations) -> None:
        if self.doing is not None and type(action) in DOING:
            self.doing(DOING[type(action)])
        if isinstance(action, Complete):
            obs.put(action.slot, await self.complete(action))
            return
        if not isinstance(action, Apply | Check | Destroy):  # pragma: no cover - closed union
            raise TypeError(f"unknown action {action!r}")
        runner_name = current.resolved.runner if current.resolved else _recorded_runner(current)
        runner = self.runners.get(runner_name) or self.runners["pyinfra"]
        request = action.request.model_copy(update={"origin": self.origin})
        async with self.slots.hold([h.name for h in request.hosts]):
            started = time.monotonic()
            result = await runner.run(request)
        if isinstance(action, Check) and action.startup_seconds > 0:
            result = await self._until_up(action, runner, request, inputs, current, result, started)
        kind = "check" if isinstance(action, Check) else ("destroy" if isinstance(action, Destroy) else "apply")
        metrics.RUNNER_DURATION.labels(runner.name, kind).observe(time.monotonic() - started)
        if isinstance(action, Check) and action.slot != "inspect":
            metrics.HEALTH_CHECKS.labels(inputs.info.kind, _check_outcome(inputs, current, result)).inc()
        elif isinstance(action, Apply) and request.probes:
            # A check that rode along with the apply: judged on the nodes the apply reached.
            checked = result.reached()
            if checked.hosts:
                metrics.HEALTH_CHECKS.labels(inputs.info.kind, _check_outcome(inputs, current, checked)).inc()
        obs.put(action.slot, result)

    async def _until_up(
        self, action: Check, runner: Runner, request: RunRequest, inputs: Inputs, current: Step,
        result: RunResult, started: float,
    ) -> RunResult:  # fmt: skip
        """Check again while every node answers and a check fails, until the startup time is up."""
        deadline = started + action.startup_seconds
        pause = STARTUP_FIRST_PAUSE
        while _check_outcome(inputs, current, result) == "unhealthy":
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self.doing is not None:
                self.doing("waiting for it to come up")
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, STARTUP_MAX_PAUSE)
            async with self.slots.hold([h.name for h in request.hosts]):
                result = await runner.run(request)
        return result


def _check_outcome(inputs: Inputs, current: Step, result: RunResult) -> str:
    if current.resolved is None:
        return "error"
    verdicts = [health.evaluate(kinds.entry(inputs.info.kind).health, current.resolved, h) for h in result.hosts]
    if any(not h.connected for h in result.hosts):
        return "error"
    return "healthy" if all(r.ok for found in verdicts for r in found) else "unhealthy"


def _recorded_runner(current: Step) -> str:
    completed = current.status.completed
    runner = getattr(completed, "runner", None) if completed is not None else None
    return str(runner or "pyinfra")
