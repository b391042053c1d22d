"""A real systemd edge node: a container with systemd as PID 1 and sshd, on 127.0.0.1.

Built from the registry-free base image (scripts/docker/images/systemd-node). The
tests reach it as an EdgeNode over SSH like any Raspberry-Pi-class node. Skips
with the reason where Docker or a systemd container cannot run.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import free_port
from tests.support.docker_lab import SYSTEMD_NODE_IMAGE, docker, docker_ready


@dataclass
class SystemdNode:
    container: str
    port: int
    key: Path

    def sh(self, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return docker("exec", self.container, "sh", "-c", command, timeout=timeout)

    def edge_node(self, name: str = "pi") -> dict[str, object]:
        return {
            "apiVersion": "clockwork.dev/v1alpha1",
            "kind": "EdgeNode",
            "metadata": {"name": name, "labels": {"site": "bench"}},
            "spec": {"address": "127.0.0.1", "port": self.port, "sshKeyFile": str(self.key),
                     "connectTimeoutSeconds": 5},
        }  # fmt: skip


def _wait(predicate: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} within {timeout}s")


@pytest.fixture(scope="session")
def systemd_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemdNode]:
    reason = docker_ready()
    if reason:
        pytest.skip(f"Docker cannot be used here: {reason}")
    keys = tmp_path_factory.mktemp("systemd-node-key")
    key = keys / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    port = free_port()
    name = f"cw-systemd-{uuid.uuid4().hex[:8]}"
    started = docker(
        "run", "-d", "--name", name, "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined",
        "--security-opt", "apparmor=unconfined", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--cgroupns=host",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "-p", f"127.0.0.1:{port}:22", SYSTEMD_NODE_IMAGE,
    )  # fmt: skip
    if started.returncode != 0:
        pytest.skip(f"a systemd container cannot start here: {started.stderr.strip()[-300:]}")
    node = SystemdNode(name, port, key)
    try:
        try:
            _wait(lambda: node.sh("systemctl is-system-running --wait").stdout.strip() in ("running", "degraded"),
                  "systemd did not finish booting", timeout=90)  # fmt: skip
        except RuntimeError as exc:
            logs = docker("logs", name).stdout[-500:]
            pytest.skip(f"systemd does not boot in a container here ({exc}): {logs}")
        docker("cp", f"{key}.pub", f"{name}:/root/.ssh/authorized_keys")
        node.sh("chown root:root /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys")

        def ssh_ok() -> bool:
            return subprocess.run(
                ["ssh", "-i", str(key), "-p", str(port), "-o", "StrictHostKeyChecking=no", "-o",
                 "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=2",
                 "root@127.0.0.1", "true"], capture_output=True, timeout=10,
            ).returncode == 0  # fmt: skip

        _wait(ssh_ok, "sshd did not accept the key", timeout=30)
        yield node
    finally:
        docker("rm", "-f", name)
