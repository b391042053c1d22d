"""Runs plans through the PyInfra worker process (gevent stays out of our event loop)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time

from pydantic import ValidationError

from clockwork.plan import RunRequest, RunResult, tail

# Seconds the worker gets beyond the plan's own timeout to report before it is killed.
KILL_GRACE_SECONDS = 15


class PyinfraRunner:
    """Starts one worker process per run.

    Starting a worker costs most of a run on a small node (Python plus PyInfra and
    gevent imported: about 0.6 s of CPU here). With ``warm`` > 0 the runner keeps that
    many workers started ahead: each has imported everything and waits for its
    request, so a run only pays for its own work. A warm worker is still used once and
    ends with its run, so a killed or stuck run never affects the next one.
    """

    name = "pyinfra"

    def __init__(self, python: str | None = None, prefix: list[str] | None = None, warm: int = 0) -> None:
        self.python = python or sys.executable
        # CW_WORKER_PREFIX wraps the worker command (`nice -n 10`, `ip netns exec edge`).
        self.prefix = prefix if prefix is not None else shlex.split(os.environ.get("CW_WORKER_PREFIX", ""))
        self.warm = max(0, warm)
        self._idle: list[_Idle] = []

    async def run(self, request: RunRequest) -> RunResult:
        # A private folder for the worker's key files, removed here even when the
        # worker had to be killed and could not clean up itself.
        secrets = tempfile.mkdtemp(prefix="clockwork-worker-")
        try:
            return await self._run(request, secrets)
        finally:
            shutil.rmtree(secrets, ignore_errors=True)

    async def aclose(self) -> None:
        """End the warm workers (they exit on the end of their input)."""
        idle, self._idle = self._idle, []
        for worker in idle:
            await worker.close()

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1"}

    async def _spawn(self, env: dict[str, str]) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.prefix,
            self.python,
            "-m",
            "clockwork.runners.worker",
            "--secrets-dir-on-stdin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )

    async def _take(self) -> asyncio.subprocess.Process:
        """A started worker: a warm one that still fits, else a new one; then top up."""
        env = self._env()
        loop = asyncio.get_running_loop()
        proc = None
        while self._idle and proc is None:
            worker = self._idle.pop(0)
            # Started under another event loop, with another environment, or gone: not usable.
            if worker.loop is loop and worker.env == env and worker.proc.returncode is None:
                proc = worker.proc
            else:
                await worker.close()
        if proc is None:
            proc = await self._spawn(env)
        while len(self._idle) < self.warm:
            self._idle.append(_Idle(await self._spawn(env), loop, env))
        return proc

    async def _run(self, request: RunRequest, secrets: str) -> RunResult:
        started = time.monotonic()
        proc = await self._take()
        # The folder goes first, then the request; keys travel on stdin only and the
        # worker writes them to 0600 files in that folder, which it removes.
        payload = secrets.encode() + b"\n" + request.model_dump_json(context={"reveal_secrets": True}).encode()
        try:
            stdout, stderr = await asyncio.wait_for(
                proc.communicate(payload),
                timeout=request.timeout_seconds + KILL_GRACE_SECONDS,
            )
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return RunResult.failed(
                request.hosts,
                f"worker killed: no result within {request.timeout_seconds + KILL_GRACE_SECONDS}s",
                time.monotonic() - started,
            )
        except asyncio.CancelledError:
            proc.kill()
            await proc.wait()
            raise
        try:
            return RunResult.model_validate_json(stdout)
        except ValidationError:
            # The last lines of a traceback say what went wrong; the rest is for logs.
            lines = stderr.decode(errors="replace").strip().splitlines()
            detail = tail(" | ".join(lines[-3:]), 1000) or "no output"
            return RunResult.failed(
                request.hosts,
                f"worker exited with code {proc.returncode} without a result: {detail}",
                time.monotonic() - started,
            )


class _Idle:
    """A warm worker: started, waiting for its request on stdin."""

    def __init__(self, proc: asyncio.subprocess.Process, loop: asyncio.AbstractEventLoop, env: dict[str, str]) -> None:
        self.proc, self.loop, self.env = proc, loop, env

    async def close(self) -> None:
        if self.proc.returncode is not None:
            return
        if self.loop is not asyncio.get_running_loop():
            # Its loop is gone or elsewhere: the pipes cannot be used from here.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            return
        # The end of its input makes a waiting worker exit at once.
        with contextlib.suppress(OSError):
            await self.proc.communicate(b"")
