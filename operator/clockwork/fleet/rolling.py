"""A Rollout's decisions as data: given the spec, the status and what the last action found,
what to do next. No I/O, nothing waits: the driver (clockwork.rollouts) carries out the
action a step returns, saves the status it returns, and asks again.

One rollout moves through ``step`` (start, supersede, pause, the next batch, done),
``batch_done`` (a batch's problems: healthy, failed, or rolling back) and ``rolled_back``
(what rolling back left). Each returns a new status; the one passed in is not changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from clockwork.api.rollout import Rollout, RolloutStatus
from clockwork.fleet import batches
from clockwork.reconcile import Event
from clockwork.reconcile.conditions import READY, get, set_condition

FINISHED = ("Completed", "Failed", "RolledBack")
# The Ready reason of a rollout that found no node to go to (phase Failed; the next run tries again).
NO_TARGETS = "NoTargets"


@dataclass(frozen=True)
class Nodes:
    """Where the rollout may go: the nodes to roll out to, the ones skipped (and why), and
    the phase of each node the selector named (None: never probed), for the messages."""

    targets: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    phases: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Deploy:
    """Apply and check every resource of the version on these nodes; report each node's problem."""

    batch: int
    nodes: list[str]


@dataclass(frozen=True)
class RollBack:
    """Put each group of nodes back to the version it had (None: it had none)."""

    batch: int
    reason: str
    groups: dict[str | None, list[str]]


Action = Deploy | RollBack


@dataclass
class Step:
    status: RolloutStatus
    events: list[Event] = field(default_factory=list)
    action: Action | None = None  # None: nothing more to do for this version now
    save: bool = True  # False: the status is as it was

    def event(self, type_: Literal["Normal", "Warning"], reason: str, message: str) -> None:
        self.events.append(Event(type_, reason, message[:1000]))


def selector_text(selector: dict[str, str]) -> str:
    """``site=lab,tier=edge``: a node selector as it is written on the command line."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _phase(phases: dict[str, str | None], name: str) -> str:
    return phases.get(name) or "Unknown"


def skipped_summary(skipped: dict[str, str], phases: dict[str, str | None]) -> str:
    """``node-a (Offline), node-b (Stale)``: each skipped node with the phase it really has."""
    return ", ".join(f"{name} ({_phase(phases, name)})" for name in sorted(skipped))


def no_targets(selector: dict[str, str], namespace: str, nodes: Nodes) -> str | None:
    """Why a rollout has no node to go to (naming ``spec.nodeSelector``); None when it has one."""
    if nodes.targets:
        return None
    shown = selector_text(selector)
    if not nodes.skipped:
        return f"spec.nodeSelector: no EdgeNode in namespace {namespace!r} has the labels {shown}"
    why = "; ".join(f"{name} ({_phase(nodes.phases, name)}): {nodes.skipped[name]}" for name in sorted(nodes.skipped))
    return f"spec.nodeSelector: no EdgeNode with the labels {shown} can be rolled out to: {why}"


def completed_message(version: str, nodes: Nodes) -> str:
    message = f"version {version} on {len(nodes.targets)} node(s)"
    if nodes.skipped:
        message += f"; {len(nodes.skipped)} node(s) skipped: {skipped_summary(nodes.skipped, nodes.phases)}"
    return message


def found_no_targets(status: RolloutStatus) -> bool:
    """The last run found no node: the next one looks again (it is not this version's end)."""
    ready = get(status.conditions, READY)
    return status.phase == "Failed" and ready is not None and ready.reason == NO_TARGETS


def plan(rollout: Rollout, nodes: Nodes) -> list[list[str]]:
    strategy = rollout.spec.strategy
    return batches.plan(list(nodes.targets), (strategy.batch_size or strategy.max_unavailable) if strategy else None)


def _ready(status: RolloutStatus, reason: str, message: str, now: datetime) -> None:
    ok: Literal["True", "False"] = "True" if reason == "Completed" else "False"
    status.conditions = set_condition(
        status.conditions, READY, ok, reason, message, generation=status.observed_generation or 1, now=now
    )


def _end(step: Step, phase: Literal["Completed", "Failed", "RolledBack"], reason: str, message: str,
         now: datetime) -> Step:  # fmt: skip
    status = step.status
    status.phase, status.message, status.finished = phase, message, now
    _ready(status, reason, message, now)
    return step


def _start(rollout: Rollout, step: Step, nodes: Nodes, now: datetime) -> None:
    spec, status = rollout.spec, step.status
    status.record(spec.version, list(spec.resources))
    status.version, status.phase, status.batch, status.started, status.finished = (
        spec.version, "Progressing", 0, now, None
    )  # fmt: skip
    wanted = set(nodes.targets) | set(nodes.skipped)
    status.nodes = [n for n in status.nodes if n.name in wanted]
    for name in sorted(wanted):
        node = status.node(name)
        node.previous_version = node.version if node.state != "failed" else node.previous_version
        node.state, node.batch, node.message = "pending", None, ""
    for name, why in sorted(nodes.skipped.items()):
        node = status.node(name)
        node.state, node.message = "skipped", why
    if nodes.skipped:
        step.event(
            "Warning",
            "NodesSkipped",
            "not rolled out to: "
            + "; ".join(f"{n} ({_phase(nodes.phases, n)}): {w}" for n, w in sorted(nodes.skipped.items())),
        )
    step.event("Normal", "Started", f"rolling out version {spec.version} to {len(nodes.targets)} node(s)")


def step(
    rollout: Rollout,
    status: RolloutStatus,
    nodes: Nodes,
    now: datetime,
    latest: Rollout | None = None,
    generation: int = 1,
) -> Step:
    """What to do next for this rollout. ``latest`` is the object as last seen by the driver
    (a new version supersedes before the next batch, ``pause`` pauses there)."""
    spec = rollout.spec
    retry = found_no_targets(status)
    if status.version == spec.version and status.phase in FINISHED and not retry:
        return Step(status, save=False)  # this version is done; a new version starts a new rollout
    out = Step(status.model_copy(deep=True))
    new = out.status
    problem = no_targets(spec.node_selector, rollout.metadata.namespace or "", nodes)
    if problem is not None:
        # Nothing was touched: the nodes keep their state, and the next run tries this version again.
        new.version, new.observed_generation = spec.version, generation
        out.event("Warning", NO_TARGETS, problem)
        return _end(out, "Failed", NO_TARGETS, problem, now)
    if new.version != spec.version or new.phase is None or retry:
        _start(rollout, out, nodes, now)
    new.observed_generation = generation
    batches_ = plan(rollout, nodes)
    new.batches = len(batches_)
    for index, batch in enumerate(batches_, start=1):
        if all(new.node(n).state == "healthy" and new.node(n).version == spec.version for n in batch):
            continue  # done before (a resumed rollout)
        if latest is not None and latest.spec.version != spec.version:
            message = f"superseded by version {latest.spec.version} before batch {index}"
            out.event("Normal", "Superseded", message)
            new.phase, new.message = "Failed", message
            _ready(new, "Failed", message, now)
            return out
        if latest.spec.pause if latest is not None else spec.pause:
            new.phase, new.message = "Paused", f"paused before batch {index} of {len(batches_)}"
            _ready(new, "Paused", new.message, now)
            return out
        new.phase, new.batch = "Progressing", index
        new.message = f"batch {index} of {len(batches_)}: {', '.join(batch)}"
        for name in batch:
            node = new.node(name)
            node.state, node.batch, node.message = "deploying", index, ""
        out.event("Normal", "BatchStarted", new.message)
        out.action = Deploy(index, list(batch))
        return out
    message = completed_message(spec.version, nodes)
    out.event("Normal", "Completed", message)
    return _end(out, "Completed", "Completed", message, now)


def batch_done(
    rollout: Rollout, status: RolloutStatus, done: Deploy, problems: dict[str, str], batches_: int, now: datetime
) -> Step:
    """A batch was deployed and gated; ``problems`` names each node that did not pass. Without
    problems the rollout goes on (ask ``step`` again); with them it fails or rolls back."""
    spec = rollout.spec
    out = Step(status.model_copy(deep=True))
    new = out.status
    for name in done.nodes:
        node = new.node(name)
        if name in problems:
            node.state, node.message = "failed", problems[name]
        else:
            node.state, node.version, node.message = "healthy", spec.version, ""
    if not problems:
        out.event("Normal", "BatchHealthy", f"batch {done.batch} of {batches_} is healthy")
        return out
    reason = "; ".join(f"{n}: {p}" for n, p in sorted(problems.items()))
    out.event("Warning", "BatchFailed", f"batch {done.batch}: {reason}")
    if spec.auto_rollback is False:
        return _end(out, "Failed", "Failed", f"batch {done.batch} failed: {reason}", now)
    new.phase = "RollingBack"
    new.message = f"batch {done.batch} failed ({reason}); rolling back"
    out.event("Warning", "RollingBack", new.message)
    groups: dict[str | None, list[str]] = {}
    for node in new.nodes:
        if node.batch is not None and node.batch <= done.batch:
            groups.setdefault(node.previous_version, []).append(node.name)
    out.action = RollBack(done.batch, reason, groups)
    return out


def rolled_back(status: RolloutStatus, done: RollBack, problems: dict[str, str], now: datetime) -> Step:
    """What rolling back left: every node back on its version (RolledBack), or Failed naming
    the nodes where putting it back failed."""
    out = Step(status.model_copy(deep=True))
    new = out.status
    leftovers: list[str] = []
    for previous, names in done.groups.items():
        for name in names:
            node = new.node(name)
            if name in problems:
                node.state, node.message = "failed", f"rollback: {problems[name]}"
                leftovers.append(name)
            else:
                node.state, node.version, node.message = "rolledBack", previous, ""
    touched = sum(len(names) for names in done.groups.values())
    if leftovers:
        message = f"batch {done.batch} failed ({done.reason}); rollback failed on {', '.join(leftovers)}"
        _end(out, "Failed", "Failed", message, now)
    else:
        message = f"batch {done.batch} failed ({done.reason}); {touched} node(s) rolled back"
        _end(out, "RolledBack", "RolledBack", message, now)
    out.event("Warning", new.phase or "Failed", message)
    return out
