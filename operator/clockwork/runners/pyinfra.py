"""Runs plans through the PyInfra worker process (gevent stays out of our event loop)."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
import tempfile
import time

from pydantic import ValidationError

from clockwork.plan import RunRequest, RunResult, tail

# Seconds the worker gets beyond the plan's own timeout to report before it is killed.
KILL_GRACE_SECONDS = 15


class PyinfraRunner:
    name = "pyinfra"

    def __init__(self, python: str | None = None, prefix: list[str] | None = None) -> None:
        self.python = python or sys.executable
        # CW_WORKER_PREFIX wraps the worker command (`nice -n 10`, `ip netns exec edge`).
        self.prefix = prefix if prefix is not None else shlex.split(os.environ.get("CW_WORKER_PREFIX", ""))

    async def run(self, request: RunRequest) -> RunResult:
        # A private folder for the worker's key files, removed here even when the
        # worker had to be killed and could not clean up itself.
        secrets = tempfile.mkdtemp(prefix="clockwork-worker-")
        try:
            return await self._run(request, secrets)
        finally:
            shutil.rmtree(secrets, ignore_errors=True)

    async def _run(self, request: RunRequest, secrets: str) -> RunResult:
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *self.prefix,
            self.python,
            "-m",
            "clockwork.runners.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "CW_WORKER_SECRETS_DIR": secrets},
            start_new_session=True,
        )
        try:
            stdout, stderr = await asyncio.wait_for(
                # Keys travel on stdin only; the worker writes them to 0600 files it removes.
                proc.communicate(request.model_dump_json(context={"reveal_secrets": True}).encode()),
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
