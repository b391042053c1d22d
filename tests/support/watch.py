"""`clockwork watch` as a real process, its JSON lines read on a thread (bounded waits)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import CLOCKWORK


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
def watching(workdir: Path, manifest: Path, env: dict[str, str] | None = None) -> Iterator[Watch]:
    proc = subprocess.Popen(
        [CLOCKWORK, "watch", "-f", str(manifest), "-o", "json"],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
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
