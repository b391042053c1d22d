"""The Container kind with runtime: podman, on the real Podman of this machine.

The test image is copied from the Docker engine (`docker save | podman load`), so no
registry is needed. This sandbox's hard open-files limit is lower than Podman's
default container limit, so the tests hand Podman a containers.conf with smaller
default ulimits (CONTAINERS_CONF) — Podman's own setting, nothing in Clockwork.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.helpers import resource, write_resources
from tests.support.docker_lab import HTTP_IMAGE, docker_ready

IMAGE = f"localhost/{HTTP_IMAGE}"


def podman(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def podman_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (Debian: package podman)")
    reason = docker_ready()
    if reason:
        pytest.skip(f"the test image comes from Docker, which cannot be used here: {reason}")
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n')
    import os

    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    saved = subprocess.run(f"docker save {HTTP_IMAGE} | podman load -q", shell=True, capture_output=True, text=True,
                           timeout=300, env=env)  # fmt: skip
    if saved.returncode != 0:
        pytest.skip(f"podman cannot load images here: {saved.stderr.strip()[-300:]}")
    probe = podman("run", "--rm", IMAGE, "true", env=env)
    if probe.returncode != 0:
        pytest.skip(f"podman cannot run containers here: {probe.stderr.strip()[-300:]}")
    return env


@pytest.fixture
def name(podman_env: dict[str, str]) -> Iterator[str]:
    found = f"cw-pod-{uuid.uuid4().hex[:8]}"
    yield found
    podman("rm", "-f", found, env=podman_env)


def test_podman_container_lifecycle(cli: CliRunner, workdir: Path, name: str, podman_env: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def manifest(greeting: str) -> Path:
        return write_resources(
            workdir / "pod.yaml",
            resource("Container", "web", name=name, image=IMAGE, runtime="podman", env={"GREETING": greeting},
                     ports=[{"host": port, "container": 8080, "hostIp": "127.0.0.1"}], httpCheck={"path": "/"}),
        )  # fmt: skip

    env = {"CONTAINERS_CONF": podman_env["CONTAINERS_CONF"]}
    applied = cli("apply", "-f", str(manifest("hello")), "-o", "json", env=env, timeout=300)
    assert applied.code == 0, [o["message"] for o in applied.json()]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
        assert answer.read().decode() == "200 / hello\n"
    first = podman("inspect", "-f", "{{.Id}}", name, env=podman_env).stdout.strip()

    again = cli("apply", "-f", str(manifest("hello")), "-o", "json", env=env, timeout=300)
    assert again.code == 0 and not again.json()[0]["changed"]

    changed = cli("apply", "-f", str(manifest("hi")), "-o", "json", env=env, timeout=300)
    assert changed.code == 0 and changed.json()[0]["changed"]
    assert podman("inspect", "-f", "{{.Id}}", name, env=podman_env).stdout.strip() != first

    podman("stop", "-t", "1", name, env=podman_env)
    stopped = cli("assert", "-f", str(manifest("hi")), "-o", "json", env=env)
    assert stopped.code == 1 and "want running" in stopped.json()[0]["message"]

    assert cli("destroy", "-f", str(manifest("hi")), env=env, timeout=300).code == 0
    assert podman("container", "exists", name, env=podman_env).returncode == 1


def test_doctor_sees_podman_where_podman_info_works() -> None:
    import json
    import os

    from tests.conftest import CLOCKWORK

    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (Debian: package podman)")
    if podman("info").returncode != 0:
        pytest.skip("podman info does not work here")
    shown = subprocess.run([CLOCKWORK, "doctor", "-o", "json"], capture_output=True, text=True, timeout=120,
                           env={**os.environ})  # fmt: skip
    check = next(c for c in json.loads(shown.stdout) if c["name"] == "podman")
    assert check["ok"] is True, check
    assert check["detail"].startswith("engine ")
