"""The Container kind on the real Docker engine, through the real `clockwork` command.

The test image (scripts/docker/images/http) serves HTTP on :8080; ports are bound to
127.0.0.1. Create -> healthy (running, port, HTTP) -> `docker stop` caught by
`clockwork assert` -> stopped again under `clockwork watch` and healed by it -> changed env re-creates ->
destroy removes it.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.helpers import free_port, resource, write_resources
from tests.support.docker_lab import HTTP_IMAGE, docker
from tests.support.watch import has_event, watching


@pytest.fixture
def name(docker_engine: None) -> Iterator[str]:
    found = f"cw-web-{uuid.uuid4().hex[:8]}"
    yield found
    docker("rm", "-f", found)


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
        return str(answer.read().decode())


def test_container_lifecycle(cli: CliRunner, workdir: Path, name: str) -> None:
    port = free_port()

    def manifest(greeting: str) -> Path:
        return write_resources(
            workdir / "web.yaml",
            resource(
                "Container", "web", name=name, image=HTTP_IMAGE, env={"GREETING": greeting},
                ports=[{"host": port, "container": 8080, "hostIp": "127.0.0.1"}],
                httpCheck={"path": "/healthz"}, health={"intervalSeconds": 1}, remediation={"backoffSeconds": 1},
            ),
        )  # fmt: skip

    applied = cli("apply", "-f", str(manifest("hello")), "-o", "json", timeout=240)
    assert applied.code == 0, applied.stdout + applied.stderr
    assert get(port, "/healthz") == "200 /healthz hello\n"
    checks = {r["name"]: r["ok"] for r in applied.json()[0]["status"]["health"]["results"]}
    assert checks == {"running": True, f"port {port}": True, "http": True}

    docker("stop", "-t", "1", name)
    stopped = cli("assert", "-f", str(manifest("hello")), "-o", "json")
    assert stopped.code == 1
    assert f"container {name} is exited, want running" in stopped.json()[0]["message"]

    with watching(workdir, manifest("hello")) as watch:
        watch.wait_for(lambda r: r["ok"], timeout=60)  # watch converges first: started again
        docker("stop", "-t", "1", name)
        healed = watch.wait_for(has_event("Remediated"), timeout=60)
        started = [e for line in watch.lines for e in line["events"] if e["reason"] == "RemediationStarted"]
        # A check that ran while `docker stop` was under way sees the port close (or the HTTP
        # check go unanswered) before the container counts as exited: either way the
        # diagnostics name what failed.
        message = started[0]["message"]
        assert (
            "is exited, want running" in message
            or f"tcp 127.0.0.1:{port} is closed, want open" in message
            or f"GET http://127.0.0.1:{port}/healthz: no answer" in message
        ), message
        assert healed["ok"]
    assert get(port, "/healthz") == "200 /healthz hello\n"

    before = docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
    changed = cli("apply", "-f", str(manifest("bonjour")), "-o", "json", timeout=240)
    assert changed.code == 0 and changed.json()[0]["changed"]
    assert docker("inspect", "-f", "{{.Id}}", name).stdout.strip() != before
    assert get(port, "/") == "200 / bonjour\n"

    again = cli("apply", "-f", str(manifest("bonjour")), "-o", "json", timeout=240)
    assert again.code == 0 and not again.json()[0]["changed"]

    destroyed = cli("destroy", "-f", str(manifest("bonjour")), timeout=120)
    assert destroyed.code == 0, destroyed.stdout
    assert docker("container", "inspect", name).returncode != 0


def test_a_failing_http_check_is_unhealthy_with_the_reason(cli: CliRunner, workdir: Path, name: str) -> None:
    port = free_port()
    manifest = write_resources(
        workdir / "web.yaml",
        resource(
            "Container", "web", name=name, image=HTTP_IMAGE,
            ports=[{"host": port, "container": 8080, "hostIp": "127.0.0.1"}],
            httpCheck={"path": "/status/503"}, remediation={"enabled": False}, health={"startupSeconds": 2},
        ),
    )  # fmt: skip
    result = cli("apply", "-f", str(manifest), "-o", "json", timeout=240)
    assert result.code == 1
    message = result.json()[0]["message"]
    assert "answered 503, want 200" in message, json.dumps(result.json(), indent=1)


def test_a_container_that_takes_a_while_to_listen_is_healthy_after_apply(
    cli: CliRunner, workdir: Path, name: str
) -> None:
    # The docker proxy accepts on the host port at once; the app answers only after 4 s.
    port = free_port()
    manifest = write_resources(workdir / "web.yaml", resource(
        "Container", "web", name=name, image=HTTP_IMAGE, env={"START_DELAY": "4"},
        ports=[{"host": port, "container": 8080, "hostIp": "127.0.0.1"}], httpCheck={"path": "/healthz"},
        remediation={"enabled": False},
    ))  # fmt: skip
    applied = cli("apply", "-f", str(manifest), "-o", "json", timeout=240)
    assert applied.code == 0, applied.stdout + applied.stderr
    assert {r["name"]: r["ok"] for r in applied.json()[0]["status"]["health"]["results"]}["http"] is True


def test_plan_shows_which_env_would_change_without_the_values(cli: CliRunner, workdir: Path, name: str) -> None:
    port = free_port()

    def manifest(env: dict[str, str]) -> Path:
        return write_resources(workdir / "web.yaml", resource(
            "Container", "web", name=name, image=HTTP_IMAGE, env=env,
            ports=[{"host": port, "container": 8080, "hostIp": "127.0.0.1"}],
        ))  # fmt: skip

    assert cli("apply", "-f", str(manifest({"GREETING": "hello"})), timeout=240).code == 0
    same = cli("plan", "-f", str(manifest({"GREETING": "hello"})), "-o", "json")
    assert [c["action"] for c in same.json()[0]["changes"]] == ["unchanged"]

    changed = manifest({"GREETING": "bonjour-s3cret", "TOKEN": "t0ken-s3cret"})
    shown = cli("plan", "-f", str(changed), "-o", "json")
    [change] = shown.json()[0]["changes"]
    assert change["target"] == f"container {name}" and change["action"] == "update"
    fields = [(f["field"], f.get("before"), f.get("after")) for f in change["fields"]]
    assert fields == [("container", "as it is", "re-created"), ("env.GREETING", "<hidden>", "<hidden>"),
                      ("env.TOKEN", None, "<hidden>")]  # fmt: skip
    table = cli("plan", "-f", str(changed))
    assert "env.TOKEN: (none) -> <hidden>" in table.stdout
    assert "s3cret" not in json.dumps(change) + table.stdout  # the diff and the table never show env values
    assert docker("exec", name, "printenv", "GREETING").stdout.strip() == "hello"  # plan changed nothing
    assert cli("destroy", "-f", str(changed), timeout=120).code == 0
