"""The worker's @docker connector against a real container on a real Docker engine.

Covers: operations and probes run inside a running container (and it stays running);
a container that does not exist or is stopped fails that host with the reason —
never building an image from a name by accident.
"""

from __future__ import annotations

import asyncio

import pytest

from clockwork.plan import CommandProbe, HostSpec, Operation, RunRequest, RunResult
from clockwork.runners.pyinfra import PyinfraRunner
from tests.support.docker_lab import docker, running_container

pytestmark = pytest.mark.integration


def run(request: RunRequest) -> RunResult:
    return asyncio.run(PyinfraRunner().run(request))


def test_operations_run_inside_a_running_container(docker_engine: None) -> None:
    with running_container() as container:
        host = HostSpec(name="box", connector="docker", container=container)
        op = Operation(
            id="put", op="clockwork.put", args={"dest": "/srv/app/config", "content": "inside\n", "mode": "0600"}
        )
        result = run(RunRequest(hosts=[host], operations=[op], probes=[CommandProbe(id="id", command="id -u")]))
        assert result.ok, result.model_dump_json()
        assert result.hosts[0].outcome == "changed"
        assert docker("exec", container, "cat", "/srv/app/config").stdout == "inside\n"
        assert docker("exec", container, "stat", "-c", "%a", "/srv/app/config").stdout.strip() == "600"
        assert docker("inspect", "-f", "{{.State.Running}}", container).stdout.strip() == "true"
        again = run(RunRequest(hosts=[host], operations=[op]))
        assert again.hosts[0].outcome == "ok"


def test_missing_or_stopped_containers_fail_with_the_reason(docker_engine: None) -> None:
    images_before = docker("images", "-q").stdout.split()
    missing = run(RunRequest(hosts=[HostSpec(name="gone", connector="docker", container="no-such-container-x")]))
    assert missing.hosts[0].outcome == "failed"
    assert "does not exist" in (missing.hosts[0].error or "")
    with running_container() as container:
        docker("stop", "-t", "0", container)
        stopped = run(RunRequest(hosts=[HostSpec(name="box", connector="docker", container=container)]))
        assert "is not running" in (stopped.hosts[0].error or "")
    assert docker("images", "-q").stdout.split() == images_before
