"""`clockwork watch`: the health loop without a cluster, as a real process.

Covers: a file deleted by hand is detected at the next check and healed
(RemediationStarted, Remediated); a failure that cannot be fixed stops after
maxAttempts with RemediationExhausted; `clockwork status` reads beside a running
watch; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLOCKWORK, CliRunner
from tests.helpers import file_resource, write_resources

pytestmark = pytest.mark.integration


class Watch:
    """Reads the watch process's JSON lines on a thread, so waits stay bounded."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.queue.put(json.loads(line))
        self.queue.put(None)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        """The first new line that matches, within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                record = self.queue.get(timeout=left)
            except queue.Empty:
                break
            if record is None:
                raise AssertionError(f"watch exited with {self.proc.wait()}")
            self.lines.append(record)
            if predicate(record):
                return record
        seen = [line.get("events") for line in self.lines]
        raise AssertionError(f"no matching line within {timeout}s; saw {seen}")


@contextmanager
def watching(workdir: Path, manifest: Path) -> Iterator[Watch]:
    proc = subprocess.Popen(
        [CLOCKWORK, "watch", "-f", str(manifest), "-o", "json"],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    watch = Watch(proc)
    try:
        yield watch
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def has_event(reason: str) -> Callable[[dict[str, Any]], bool]:
    return lambda record: any(e["reason"] == reason for e in record.get("events", []))


def test_deleted_file_is_healed_and_sigterm_stops(cli: CliRunner, workdir: Path) -> None:
    target = workdir / "kept.txt"
    manifest = write_resources(
        workdir / "m.yaml",
        file_resource(
            "kept",
            path=str(target),
            content="keep me\n",
            health={"intervalSeconds": 1},
            remediation={"backoffSeconds": 1},
        ),
    )
    with watching(workdir, manifest) as watch:
        watch.wait_for(lambda r: r["resource"] == "File/default/kept" and r["ok"])
        assert target.read_text() == "keep me\n"

        status = cli("status", "-o", "json")  # beside the running watch: no lock needed
        assert status.code == 0
        assert status.json()[0]["resource"] == "File/default/kept"

        target.unlink()
        healed = watch.wait_for(has_event("Remediated"), timeout=20)
        started = [e for line in watch.lines for e in line["events"] if e["reason"] == "RemediationStarted"]
        assert "does not exist" in started[0]["message"]
        assert next(c for c in healed["status"]["conditions"] if c["type"] == "Healthy")["status"] == "True"
        assert target.read_text() == "keep me\n"

        watch.proc.send_signal(signal.SIGTERM)
        assert watch.proc.wait(timeout=15) == 0


def test_unfixable_failure_stops_at_max_attempts(workdir: Path) -> None:
    blocker = workdir / "blocker"
    blocker.write_text("a file where a directory should be")
    manifest = write_resources(
        workdir / "m.yaml",
        file_resource(
            "stuck",
            path=str(blocker / "x.txt"),
            content="x",
            health={"intervalSeconds": 1},
            remediation={"maxAttempts": 2, "backoffSeconds": 1},
        ),
    )
    with watching(workdir, manifest) as watch:
        watch.wait_for(has_event("ApplyFailed"))
        failed = watch.wait_for(has_event("RemediationFailed"), timeout=30)
        assert "attempt 1/2" in json.dumps(failed["events"])
        exhausted = watch.wait_for(has_event("RemediationExhausted"), timeout=30)
        healthy = next(c for c in exhausted["status"]["conditions"] if c["type"] == "Healthy")
        assert healthy["reason"] == "RemediationExhausted"
        assert exhausted["status"]["remediation"]["attempts"] == 2
        assert len(exhausted["status"]["remediation"]["history"]) == 2
