"""Every assertion type, passing and failing, against real things on this machine.

The real worker runs the probes on @local: files on disk, an HTTP server and a TCP
port on 127.0.0.1, a running process, /proc for memory and CPU, df for disk; the
container assertions use a real container (tests/docker has the engine). Each
case checks the verdict and that the message says what is wrong.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from clockwork.api.assertions import Assertion
from clockwork.health import checks
from clockwork.health.probing import Verdict
from clockwork.plan import HostSpec, RunRequest
from clockwork.runners.pyinfra import PyinfraRunner
from tests.support.docker_lab import docker, docker_ready, running_container

pytestmark = pytest.mark.integration
ADAPTER: TypeAdapter[Assertion] = TypeAdapter(Assertion)


def verdicts(cases: list[dict[str, Any]]) -> list[Verdict]:
    """Run every case's probes in one worker call, then judge each case."""
    parsed = [ADAPTER.validate_python(case) for case in cases]
    probes = {p.id: p for case in parsed for p in checks.probes_of(case)}
    result = asyncio.run(PyinfraRunner().run(RunRequest(hosts=[HostSpec(name="@local")], probes=list(probes.values()))))
    return [checks.judge(case, result.hosts[0]) for case in parsed]


@pytest.fixture
def web(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "index.html").write_text("<h1>clockwork says hello</h1>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kw)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def sleeper() -> Iterator[str]:
    marker = f"cw-sleeper-{os.getpid()}"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker])
    try:
        yield marker
    finally:
        proc.kill()
        proc.wait()


def expect(cases: list[tuple[dict[str, Any], bool, str]]) -> None:
    found = verdicts([case for case, _, _ in cases])
    for (case, ok, fragment), verdict in zip(cases, found, strict=True):
        assert verdict.ok is ok, f"{case}: {verdict}"
        assert fragment in verdict.message, f"{case}: {verdict.message!r} lacks {fragment!r}"


def test_http_and_port(web: str) -> None:
    port = int(web.rsplit(":", 1)[1])
    expect(
        [
            ({"type": "http", "url": web + "/", "bodyMatches": "says hello"}, True, "answered 200"),
            ({"type": "http", "url": web + "/missing", "expectStatus": 200}, False, "answered 404, want 200"),
            ({"type": "http", "url": web + "/", "bodyMatches": "goodbye"}, False, "does not match /goodbye/"),
            ({"type": "http", "url": "http://127.0.0.1:9/", "timeoutSeconds": 2}, False, "no answer"),
            ({"type": "port", "port": port}, True, f"127.0.0.1:{port} is open"),
            ({"type": "port", "port": 9}, False, "127.0.0.1:9 is closed, want open"),
            ({"type": "port", "port": 9, "open": False}, True, "is closed"),
        ]
    )


def test_files(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text("port = 8080\n")
    path.chmod(0o640)
    sha = hashlib.sha256(b"port = 8080\n").hexdigest()
    p = str(path)
    expect(
        [
            ({"type": "fileExists", "path": p}, True, "exists"),
            ({"type": "fileExists", "path": p + ".missing"}, False, "does not exist"),
            ({"type": "fileExists", "path": p + ".missing", "present": False}, True, "is absent"),
            ({"type": "filePermissions", "path": p, "mode": "0640", "owner": "root"}, True, "mode is 0640"),
            ({"type": "filePermissions", "path": p, "mode": "0600"}, False, "mode is 0640, want 0600"),
            ({"type": "fileSize", "path": p, "minBytes": 5, "maxBytes": 100}, True, "is 12 bytes"),
            ({"type": "fileSize", "path": p, "maxBytes": 4}, False, "more than 4"),
            ({"type": "fileContent", "path": p, "matches": "^port = [0-9]+$"}, True, "matches"),
            ({"type": "fileContent", "path": p, "matches": "^host ="}, False, "does not match"),
            ({"type": "fileContent", "path": p, "sha256": sha}, True, "content matches"),
            ({"type": "fileContent", "path": p, "sha256": "0" * 64}, False, "content differs"),
            ({"type": "fileContent", "path": p + ".missing", "sha256": sha}, False, "does not exist"),
            ({"type": "logContains", "path": p, "pattern": "8080"}, True, "match /8080/"),
            ({"type": "logContains", "path": p, "pattern": "ERROR"}, False, "none of the last 200 lines"),
        ]
    )


def test_processes_and_usage(sleeper: str) -> None:
    expect(
        [
            ({"type": "processRunning", "pattern": sleeper}, True, "1 process(es) match"),
            ({"type": "processRunning", "pattern": "no-such-process-anywhere"}, False, "no process matches"),
            ({"type": "processNotRunning", "pattern": "no-such-process-anywhere"}, True, "no process matches"),
            ({"type": "processNotRunning", "pattern": sleeper}, False, "want none"),
            ({"type": "memoryUsage", "maxPercent": 100}, True, "memory usage is"),
            ({"type": "memoryUsage", "maxPercent": 0.001}, False, "more than 0.001%"),
            ({"type": "cpuUsage", "maxPercent": 100}, True, "CPU usage is"),
            ({"type": "diskUsage", "path": "/", "maxPercent": 100}, True, "disk (/) usage is"),
            ({"type": "diskUsage", "path": "/", "maxPercent": 0.001}, False, "more than 0.001%"),
            ({"type": "command", "command": "test -d /proc", "name": "proc"}, True, "ok"),
            ({"type": "command", "command": "exit 4"}, False, "exited 4, want 0"),
        ]
    )


def test_cpu_usage_over_a_limit_fails(sleeper: str) -> None:
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        expect([({"type": "cpuUsage", "maxPercent": 5}, False, "more than 5%")])
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()


def test_containers() -> None:
    reason = docker_ready()
    if reason:
        pytest.skip(f"Docker cannot be used here: {reason}")
    health = ("--health-cmd", "test -f /tmp/healthy", "--health-interval", "1s", "--health-retries", "1")
    command = ("sh", "-c", "echo started-ok; touch /tmp/healthy; sleep 300")
    with running_container(command=command, args=health) as container, running_container() as plain:
        name = docker("inspect", "-f", "{{.Name}}", container).stdout.strip().lstrip("/")
        for _ in range(100):  # the first health check runs after one interval
            if docker("inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip() == "healthy":
                break
            threading.Event().wait(0.1)
        docker("stop", "-t", "0", plain)
        expect(
            [
                ({"type": "containerRunning", "container": name}, True, "is running"),
                ({"type": "containerRunning", "container": plain}, False, "is exited, want running"),
                ({"type": "containerRunning", "container": "no-such-container-cw"}, False, "does not exist"),
                ({"type": "containerHealthy", "container": name}, True, "is healthy"),
                ({"type": "containerHealthy", "container": plain}, False, "has no HEALTHCHECK"),
                ({"type": "logContains", "container": name, "pattern": "started-ok"}, True, "match /started-ok/"),
                ({"type": "logContains", "container": name, "pattern": "panic"}, False, "none of the last"),
            ]
        )
