"""A real Docker engine for tests, and the images they need, without any registry.

``docker_ready()`` runs scripts/docker/ensure-dockerd.sh and build-test-images.sh
once per session (debootstrap + docker import for the base, the root filesystem is
cached; then the test images under scripts/docker/images/ FROM it) and
answers why Docker cannot be used when it cannot (the tests then skip with that
reason). ``running_container()`` starts a container from the base image and
removes it by id afterwards, even when the test failed.
"""

from __future__ import annotations

import functools
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "clockwork/base:bookworm"
HTTP_IMAGE = "clockwork/test-http"  # answers on :8080 (scripts/docker/images/http)
SYSTEMD_NODE_IMAGE = "clockwork/test-systemd-node"  # systemd as PID 1 and sshd


@functools.cache
def docker_ready() -> str | None:
    """None when the engine answers and the base image exists, else why not."""
    for script in ("ensure-dockerd.sh", "build-test-images.sh"):
        proc = subprocess.run([str(REPO / "scripts" / "docker" / script)], capture_output=True, text=True,
                              timeout=900)  # fmt: skip
        if proc.returncode != 0:
            return f"{script} failed: {(proc.stderr or proc.stdout).strip()[-300:]}"
    return None


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@contextmanager
def running_container(image: str = BASE_IMAGE, command: tuple[str, ...] = ("sleep", "3600"),
                      args: tuple[str, ...] = ()) -> Iterator[str]:  # fmt: skip
    name = f"cw-test-{uuid.uuid4().hex[:10]}"
    started = docker("run", "-d", "--name", name, *args, image, *command)
    if started.returncode != 0:
        raise RuntimeError(f"docker run failed: {started.stderr.strip()}")
    container_id = started.stdout.strip()
    try:
        yield container_id
    finally:
        docker("rm", "-f", container_id)
