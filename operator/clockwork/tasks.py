"""Runs Tasks on the fleet's nodes: placement on free slots, the run, retries, cancel.

The command runs under coreutils `timeout` on the node, so the node itself kills it
(and everything it started: `timeout` signals its whole process group) when the
time counted from assignment is up. Cancelling kills it through a second run.

The run is tracked on the node, not only in the SSH session that started it: it runs
detached in its own session, with its output, process group and exit code in
``~/.clockwork/tasks/<uid>-<assigned>/``. The session that started it waits for the exit code;
an operator that restarted while it ran attaches to the same folder and reports the
run's real outcome, and a run that has no folder there never started, so it starts
now: an operator restart mid-Task neither loses the run nor repeats it. Folders are
removed a day after their last change.
Shared by both drivers; they decide where status lives, which nodes there are and
whether a Task nothing can take waits (the operator) or ends Pending (local mode).
Nothing here polls the API: cancel is an event the driver sets when it sees it.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from clockwork import metrics
from clockwork.api.base import utcnow
from clockwork.api.edgenode import EdgeNode, EdgeNodeStatus
from clockwork.api.task import Task, TaskStatus
from clockwork.fleet import scheduler
from clockwork.plan import CommandProbe, HostSpec, Origin, ProbeResult, RunRequest, RunResult
from clockwork.runners.base import Runner

TIMEOUT_EXIT = 124  # coreutils timeout: the command was killed at the limit
GRACE_SECONDS = 5
# Tries to reach a node to stop a cancelled run (1, 2, 4 s apart), and what the status then says.
KILL_ATTEMPTS = 4
NOT_STOPPED = "but could not be stopped there"
OUTPUT_LIMIT = 4000

Nodes = list[tuple[EdgeNode, EdgeNodeStatus | None]]
EventType = Literal["Normal", "Warning"]


def marker(uid: str) -> str:
    return f"cw-task-{uid}"


NO_RECORD_EXIT = 254
NO_RECORD = "cw-task: no record of this run on the node"
# Where a run's state lives on the node ($1: the Task's uid).
_RUN_DIR = 'd="${HOME:-/tmp}/.clockwork/tasks/$1"'
# $1 uid, $2 seconds, $3 the command, $4 start|attach. Starts the run detached unless its
# folder exists (mkdir is the claim), then waits for its exit code and prints its output.
_RUN_SCRIPT = f"""{_RUN_DIR}
mkdir -p "${{d%/*}}" && chmod 700 "${{d%/*/*}}" || exit 1
if [ "$4" = start ] && mkdir -m 700 "$d" 2>/dev/null; then
  find "${{d%/*}}" -mindepth 1 -maxdepth 1 -mmin +1440 -exec rm -rf {{}} + 2>/dev/null
  setsid sh -c 'timeout -k {GRACE_SECONDS} "$2" sh -c "$3" >"$1/out" 2>&1 </dev/null & echo $! >"$1/pid"
    wait $!; echo $? >"$1/rc.new"; mv "$1/rc.new" "$1/rc"' cw-run "$d" "$2" "$3" </dev/null >/dev/null 2>&1 &
  wait $!
elif [ ! -d "$d" ]; then
  echo "{NO_RECORD}"; exit {NO_RECORD_EXIT}
fi
while [ ! -e "$d/rc" ]; do sleep 0.5; done
tail -c {{limit}} "$d/out"; exit "$(cat "$d/rc")"
"""
# $1 uid: TERM to the run's process group (`timeout` leads it); a run whose group is not
# written yet gets a moment; one with no folder never started.
_KILL_SCRIPT = f"""{_RUN_DIR}
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e "$d/pid" ] || [ ! -d "$d" ] && break; sleep 0.2; done
[ -e "$d/pid" ] && kill -s TERM -- "-$(cat "$d/pid")" 2>/dev/null
true
"""


def run_key(uid: str, status: TaskStatus) -> str:
    """What names one run of a Task on its node: its uid and when it was assigned, so a Task
    whose uid comes back (local mode names it by namespace and name) or a retry gets a run of its
    own, and an operator that restarted finds the run in the status it left."""
    assigned = status.assigned_time
    return f"{uid}-{int(assigned.timestamp())}" if assigned is not None else uid


def command_for(task: Task, uid: str, seconds: int, attach: bool = False) -> str:
    """The shell line that runs the task on the node, limited to ``seconds``, and reports its
    output and exit code; with ``attach``, the line that waits for a run already started."""
    exports = "".join(f"export {k}={shlex.quote(v)}; " for k, v in sorted((task.spec.env or {}).items()))
    body = f": {marker(uid)}; {exports}{task.spec.program}"
    script = _RUN_SCRIPT.replace("{limit}", str(OUTPUT_LIMIT))
    mode = "attach" if attach else "start"
    return " ".join(
        ["sh", "-c", shlex.quote(script), "cw-task", shlex.quote(uid), str(seconds), shlex.quote(body), mode]
    )


def kill_command(uid: str) -> str:
    return " ".join(["sh", "-c", shlex.quote(_KILL_SCRIPT), "cw-kill", shlex.quote(uid)])


class Slots:
    """Runs per node across every Task of this process, and a signal when that changes.

    Placement is synchronous (choose, then take), so on one event loop two Tasks never
    take the same last slot; a waiter takes ``changed`` before it looks, so a release
    in between still wakes it.
    """

    def __init__(self) -> None:
        self.running: dict[str, int] = {}
        self.changed = asyncio.Event()

    def take(self, node: str) -> None:
        self.running[node] = self.running.get(node, 0) + 1

    def release(self, node: str) -> None:
        self.running[node] -= 1
        self.poke()

    def poke(self) -> None:
        """Wake every waiter (a slot freed, a node changed)."""
        self.changed.set()
        self.changed = asyncio.Event()


@dataclass
class TaskRun:
    """One Task's run as a driver sets it up."""

    runner: Runner
    connect_timeout: int
    nodes: Callable[[], Awaitable[Nodes]]
    host: Callable[[EdgeNode, EdgeNodeStatus | None], Awaitable[HostSpec | str]]
    save: Callable[[TaskStatus], Awaitable[None]]
    event: Callable[[EventType, str, str], None] = lambda *_: None
    # Set by the driver when spec.cancel is seen or the Task is deleted.
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    origin: Origin | None = None
    # None: a Task no node can take ends Pending (local mode). A number: it waits for a
    # slot or a node change, looking again at least this often (the operator).
    wait_seconds: float | None = None


async def place_and_run(task: Task, status: TaskStatus, uid: str, slots: Slots, ctx: TaskRun) -> TaskStatus:
    """Place ``task`` on a free node, run it there, retry a lost run; its final (or Pending) status."""
    while True:
        if ctx.cancel.is_set():
            return await _report(_finish(status, "Cancelled", "cancelled before it ran"), ctx)
        changed = slots.changed
        nodes = await ctx.nodes()
        choice = scheduler.choose(task.spec, task.metadata.namespace, nodes, slots.running)
        if choice.node is None:
            if status.phase != "Pending" or status.message != choice.reason:
                status.phase, status.message = "Pending", choice.reason
                await ctx.save(status)
                ctx.event("Normal", "Pending", choice.reason)
            if ctx.wait_seconds is None and not choice.busy:
                return status
            await _first(changed.wait(), ctx.cancel.wait(), seconds=ctx.wait_seconds)
            continue
        slots.take(choice.node)
        found = next((n, s) for n, s in nodes if n.metadata.name == choice.node)
        try:
            status.phase, status.node, status.assigned_time = "Assigned", choice.node, utcnow()
            status.attempts += 1
            status.exit_code, status.output, status.start_time, status.completion_time = None, "", None, None
            await ctx.save(status)
            ctx.event("Normal", "Assigned", f"assigned to {choice.node}")
            status = await _on_node(task, status, uid, ctx, found)
        finally:
            slots.release(choice.node)
        if not _retry(task, status):
            return await _report(status, ctx)


async def _on_node(
    task: Task, status: TaskStatus, uid: str, ctx: TaskRun, found: tuple[EdgeNode, EdgeNodeStatus | None],
    why_prefix: str = "", attach: bool = False,
) -> TaskStatus:  # fmt: skip
    """Run (or attach to) ``task`` on the node found (its slot held by the caller); a node that cannot
    be reached makes it a lost run (``why_prefix`` says in what situation)."""
    host = await ctx.host(*found)
    if isinstance(host, str):
        status.phase, status.message = "Failed", why_prefix + host
        return status
    return await execute(task, status, uid, host, ctx, attach=attach)


def _retry(task: Task, status: TaskStatus) -> bool:
    """Whether a lost run goes back to placement (retries left); the message says so."""
    if status.phase == "Failed" and status.exit_code is None and status.attempts <= (task.spec.retries or 0):
        status.message += f"; retrying ({status.attempts}/{task.spec.retries})"
        return True
    return False


async def resume(task: Task, status: TaskStatus, uid: str, slots: Slots, ctx: TaskRun) -> TaskStatus:
    """A Task found Assigned or Running that this process did not start (the operator restarted):
    wait for its run on its node and report what really happened there (started now if it never
    did); placed again, as a lost run, only when the node is gone and retries allow."""
    node_name = status.node or ""
    found = next(((n, s) for n, s in await ctx.nodes() if n.metadata.name == node_name), None)
    if found is None:
        status = _lost(status, f"the operator restarted while it ran on {node_name}, and that node is gone")
    else:
        slots.take(node_name)
        try:
            why = f"the operator restarted while it ran on {node_name}: "
            status = await _on_node(task, status, uid, ctx, found, why, attach=True)
        finally:
            slots.release(node_name)
    if _retry(task, status):
        return await place_and_run(task, status, uid, slots, ctx)
    return await _report(status, ctx)


async def execute(
    task: Task, status: TaskStatus, uid: str, host: HostSpec, ctx: TaskRun, attach: bool = False
) -> TaskStatus:
    """Run ``task`` on ``status.node`` (already Assigned) to a final phase, or Failed with no exit code
    when lost; with ``attach``, wait for the run an earlier operator started there."""
    assigned = status.assigned_time or utcnow()
    left = int(task.spec.timeout - (utcnow() - assigned).total_seconds())
    if left <= 0 and not attach:
        return _finish(status, "TimedOut", f"no time left: {task.spec.timeout}s since assignment passed before it ran")
    if attach:
        status.phase, status.message = "Running", f"running on {status.node} (attached after an operator restart)"
        status.start_time = status.start_time or utcnow()
    else:
        status.phase, status.start_time, status.message = "Running", utcnow(), f"running on {status.node}"
    await ctx.save(status)
    left = max(left, 1)  # attached: the run's own timeout on the node ends it
    run = run_key(uid, status)
    command = command_for(task, run, left, attach=attach)
    request = RunRequest(
        hosts=[host],
        probes=[CommandProbe(id="task", command=command, timeout_seconds=min(3600, left + 30))],
        connect_timeout_seconds=ctx.connect_timeout,
        timeout_seconds=left + 60,
        origin=ctx.origin,
    )
    started = time.monotonic()
    running = asyncio.ensure_future(ctx.runner.run(request))
    cancelled = asyncio.ensure_future(ctx.cancel.wait())
    await asyncio.wait({running, cancelled}, return_when=asyncio.FIRST_COMPLETED)
    cancelled.cancel()
    if not running.done():  # cancelled: stop it on the node and see its run end
        why = await _stop(host, run, running, ctx)
        status.duration_seconds = round(time.monotonic() - started, 3)
        if not running.done():
            running.cancel()
        if why is None:
            return _finish(status, "Cancelled", f"cancelled while running on {status.node}; stopped there")
        return _finish(
            status, "Cancelled",
            f"cancelled while running on {status.node}, {NOT_STOPPED}: {why}; "
            f"the node ends it {task.spec.timeout}s after assignment",
        )  # fmt: skip
    status.duration_seconds = round(time.monotonic() - started, 3)
    probe, why = _answer(running.result())
    if probe is None:
        return _lost(status, f"lost {status.node} while running: {why}")
    if attach and probe.exit_code == NO_RECORD_EXIT and NO_RECORD in probe.output_tail:
        return await execute(task, status, uid, host, ctx)  # it never started: nothing runs twice
    status.exit_code, status.output = probe.exit_code, probe.output_tail[-OUTPUT_LIMIT:]
    if probe.exit_code == TIMEOUT_EXIT:
        return _finish(
            status, "TimedOut", f"killed on {status.node} after {task.spec.timeout}s (counted from assignment)"
        )
    if probe.exit_code == 0:
        return _finish(status, "Succeeded", f"exited 0 on {status.node}")
    return _finish(status, "Failed", f"exited {probe.exit_code} on {status.node}")


async def _stop(host: HostSpec, run: str, running: asyncio.Future[RunResult], ctx: TaskRun) -> str | None:
    """Stop ``run`` on its node: the kill script, tried again while the node cannot be reached
    (a loaded node or a cancel of many runs at once can miss a connect timeout), then the run's
    own end awaited. None once it ended, else why it could not be stopped."""
    kill = RunRequest(hosts=[host], probes=[CommandProbe(id="kill", command=kill_command(run))],
                      connect_timeout_seconds=ctx.connect_timeout, timeout_seconds=60)  # fmt: skip
    for attempt in range(KILL_ATTEMPTS):
        probe, why = _answer(await ctx.runner.run(kill))
        if probe is not None and probe.exit_code == 0:
            await asyncio.wait({running}, timeout=GRACE_SECONDS + 10)
            if running.done():
                return None
            why = f"still running {GRACE_SECONDS + 10}s after it was sent TERM"
        if attempt + 1 < KILL_ATTEMPTS:
            await asyncio.wait({running}, timeout=2**attempt)  # a pause, cut short if it ends anyway
        if _ended(running):
            return None
    return why


def _ended(running: asyncio.Future[RunResult]) -> bool:
    """Whether the run's own session saw it end on the node (a session lost with the node is no proof)."""
    if not running.done() or running.cancelled() or running.exception() is not None:
        return False
    return _answer(running.result())[0] is not None


def _answer(result: RunResult) -> tuple[ProbeResult | None, str]:
    """The one command of a run on one node, when the node ran it to an exit code (else None),
    and the run's error ("no answer" when it has none)."""
    host = result.hosts[0] if result.hosts else None
    probe = host.probes[0] if host is not None and host.probes else None
    why = (probe.error if probe is not None else None) or (host.error if host else None) or result.error
    answered = host is not None and host.connected and probe is not None and probe.exit_code is not None
    return (probe if answered else None), why or "no answer"


async def _first(*waits: Awaitable[object], seconds: float | None = None) -> None:
    """Until the first of ``waits`` is done (or ``seconds`` pass); the others are cancelled."""
    futures = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(futures, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in futures:
            future.cancel()


async def _report(status: TaskStatus, ctx: TaskRun) -> TaskStatus:
    await ctx.save(status)
    metrics.TASKS.labels(status.phase or "Unknown").inc()
    normal = status.phase == "Succeeded" or (status.phase == "Cancelled" and NOT_STOPPED not in status.message)
    kind: EventType = "Normal" if normal else "Warning"
    ctx.event(kind, status.phase or "Finished", status.message)
    return status


def _finish(status: TaskStatus, phase: str, message: str) -> TaskStatus:
    status.phase, status.message, status.completion_time = phase, message, utcnow()  # type: ignore[assignment]
    return status


def _lost(status: TaskStatus, message: str) -> TaskStatus:
    status.phase, status.message, status.completion_time = "Failed", message, utcnow()
    status.exit_code = None
    return status
