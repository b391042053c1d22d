"""A container that was there before Clockwork is never lost (real Docker engine).

Covers: a Container whose name is taken by someone else's container is refused by
default, that container untouched; with onExisting: backup it is set aside (stopped,
renamed), Clockwork's runs under the name, and destroy removes Clockwork's and puts
the original back under its name, with the same id, running again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.helpers import resource, write_resources
from tests.support.docker_lab import BASE_IMAGE, HTTP_IMAGE, docker

pytestmark = pytest.mark.integration


@pytest.fixture
def theirs(docker_engine: None) -> Iterator[str]:
    name = f"cw-theirs-{uuid.uuid4().hex[:8]}"
    started = docker("run", "-d", "--name", name, BASE_IMAGE, "sleep", "3600")
    assert started.returncode == 0, started.stderr
    yield name
    for leftover in docker("ps", "-aq", "--filter", f"name={name}").stdout.split():
        docker("rm", "-f", leftover)


def inspect(name: str) -> tuple[str, str, str]:
    found = docker("inspect", "-f", "{{.Id}} {{.State.Running}} {{.Config.Image}}", name).stdout.split()
    return (found[0], found[1], found[2]) if len(found) == 3 else ("", "", "")


def test_someone_elses_container_is_kept(cli: CliRunner, workdir: Path, theirs: str) -> None:
    before = inspect(theirs)
    assert before[1] == "true"
    spec = {"name": theirs, "image": HTTP_IMAGE}
    manifest = write_resources(workdir / "c.yaml", resource("Container", "web", **spec))
    refused = cli("apply", "-f", str(manifest), "-o", "json", timeout=240)
    assert refused.code == 1
    assert f"a container named {theirs} already exists" in refused.json()[0]["message"]
    assert inspect(theirs) == before

    manifest = write_resources(workdir / "c.yaml", resource("Container", "web", onExisting="backup", **spec))
    applied = cli("apply", "-f", str(manifest), "-o", "json", timeout=240)
    assert applied.code == 0, applied.stdout[-2000:]
    ours = inspect(theirs)
    assert ours[0] != before[0] and ours[1] == "true" and ours[2] == HTTP_IMAGE
    aside = docker("ps", "-a", "--filter", f"id={before[0]}", "--format", "{{.Names}} {{.State}}").stdout.split()
    assert aside[0].startswith(f"{theirs}-clockwork-backup-") and aside[1] == "exited"

    assert cli("destroy", "-f", str(manifest), timeout=240).code == 0
    assert inspect(theirs) == before
    assert docker("ps", "-aq", "--filter", f"id={ours[0]}").stdout.strip() == ""


def test_a_container_a_failed_apply_left_created_goes_with_destroy(
    cli: CliRunner, workdir: Path, docker_engine: None
) -> None:
    import socket

    name = f"cw-busy-{uuid.uuid4().hex[:8]}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        spec = {"name": name, "image": HTTP_IMAGE, "ports": [{"host": port, "container": 8080, "hostIp": "127.0.0.1"}]}
        manifest = write_resources(workdir / "c.yaml", resource("Container", "busy", **spec))
        try:
            failed = cli("apply", "-f", str(manifest), "-o", "json", timeout=240)
            assert failed.code == 1
            assert docker("ps", "-aq", "--filter", f"name=^{name}$").stdout.strip(), "left Created by the failed start"
            destroyed = cli("destroy", "-f", str(manifest), "-o", "json", timeout=240)
            assert destroyed.code == 0 and destroyed.json()[0]["message"] == "destroyed"
            assert docker("ps", "-aq", "--filter", f"name=^{name}$").stdout.strip() == ""
        finally:
            docker("rm", "-f", name)
