"""Runs one assigned Task on its node: time limit from assignment, cancel, lost nodes.

The command runs under coreutils `timeout` on the node, so the node itself kills it
(and everything it started: `timeout` signals its whole process group) when the
time counted from assignment is up. Cancelling kills it through a second run.
Shared by both drivers; they decide where status lives and which node runs it.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from clockwork.api.base import utcnow
from clockwork.api.task import Task, TaskStatus
from clockwork.plan import CommandProbe, HostSpec, Origin, RunRequest
from clockwork.runners.base import Runner

TIMEOUT_EXIT = 124  # coreutils timeout: the command was killed at the limit
GRACE_SECONDS = 5
OUTPUT_LIMIT = 4000


def marker(uid: str) -> str:
    return f"cw-task-{uid}"


def command_for(task: Task, uid: str, seconds: int) -> str:
    """The shell line that runs the task on the node, limited to ``seconds``."""
    exports = "".join(f"export {k}={shlex.quote(v)}; " for k, v in sorted((task.spec.env or {}).items()))
    body = f": {marker(uid)}; {exports}{task.spec.program}"
    return f"timeout -k {GRACE_SECONDS} {seconds} sh -c {shlex.quote(body)}"


def kill_command(uid: str) -> str:
    # The brackets keep this command's own command line from matching the pattern.
    tag = marker(uid)
    return f"pkill -TERM -f {shlex.quote(tag[:6] + '[' + tag[6] + ']' + tag[7:])} || true"


@dataclass
class TaskRun:
    runner: Runner
    host: HostSpec
    connect_timeout: int
    save: Callable[[TaskStatus], Awaitable[None]]
    # Polled while the task runs: true when spec.cancel was set.
    cancelled: Callable[[], Awaitable[bool]] | None = None
    origin: Origin | None = None
    poll_seconds: float = 1.0


async def execute(task: Task, status: TaskStatus, uid: str, ctx: TaskRun) -> TaskStatus:
    """Run ``task`` on ``status.node`` (already Assigned) to a final phase, or back to Pending when lost."""
    assigned = status.assigned_time or utcnow()
    left = int(task.spec.timeout - (utcnow() - assigned).total_seconds())
    if left <= 0:
        return _finish(status, "TimedOut", f"no time left: {task.spec.timeout}s since assignment passed before it ran")
    status.phase, status.start_time, status.message = "Running", utcnow(), f"running on {status.node}"
    await ctx.save(status)
    request = RunRequest(
        hosts=[ctx.host],
        probes=[CommandProbe(id="task", command=command_for(task, uid, left), timeout_seconds=min(3600, left + 30))],
        connect_timeout_seconds=ctx.connect_timeout,
        timeout_seconds=left + 60,
        origin=ctx.origin,
    )
    started = time.monotonic()
    running = asyncio.ensure_future(ctx.runner.run(request))
    cancelled = False
    while not running.done():
        await asyncio.wait({running}, timeout=ctx.poll_seconds)
        if not running.done() and ctx.cancelled is not None and await ctx.cancelled():
            cancelled = True
            kill = RunRequest(hosts=[ctx.host], probes=[CommandProbe(id="kill", command=kill_command(uid))],
                              connect_timeout_seconds=ctx.connect_timeout, timeout_seconds=60)  # fmt: skip
            await ctx.runner.run(kill)
            await asyncio.wait({running}, timeout=GRACE_SECONDS + 10)
            break
    status.duration_seconds = round(time.monotonic() - started, 3)
    if cancelled:
        if not running.done():
            running.cancel()
        return _finish(status, "Cancelled", f"cancelled while running on {status.node}; stopped there")
    result = running.result()
    host = result.hosts[0] if result.hosts else None
    probe = host.probes[0] if host is not None and host.probes else None
    if host is None or not host.connected or probe is None or probe.exit_code is None:
        why = (probe.error if probe is not None else None) or (host.error if host else None) or result.error
        return _lost(status, f"lost {status.node} while running: {why or 'no answer'}")
    status.exit_code, status.output = probe.exit_code, probe.output_tail[-OUTPUT_LIMIT:]
    if probe.exit_code == TIMEOUT_EXIT:
        return _finish(
            status, "TimedOut", f"killed on {status.node} after {task.spec.timeout}s (counted from assignment)"
        )
    if probe.exit_code == 0:
        return _finish(status, "Succeeded", f"exited 0 on {status.node}")
    return _finish(status, "Failed", f"exited {probe.exit_code} on {status.node}")


def _finish(status: TaskStatus, phase: str, message: str) -> TaskStatus:
    status.phase, status.message, status.completion_time = phase, message, utcnow()  # type: ignore[assignment]
    return status


def _lost(status: TaskStatus, message: str) -> TaskStatus:
    status.phase, status.message, status.completion_time = "Failed", message, utcnow()
    status.exit_code = None
    return status
