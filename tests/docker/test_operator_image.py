"""The operator image, built on the real Docker engine without PyPI inside the build.

scripts/docker/build-operator-image.sh fills build/wheelhouse with the host's pip and
builds the Dockerfile FROM a local base (there is no registry here). The image must
answer `--version`, pass `clockwork doctor` on a read-only root filesystem, and run
as the non-root user.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from clockwork import __version__
from tests.conftest import REPO
from tests.support.docker_lab import docker

TAG = "clockwork/operator:test"


@pytest.fixture(scope="module")
def image(docker_engine: None) -> str:
    built = subprocess.run([str(REPO / "scripts" / "docker" / "build-operator-image.sh"), TAG],
                           capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    return TAG


def test_version(image: str) -> None:
    ran = docker("run", "--rm", image, "--version")
    assert ran.returncode == 0 and ran.stdout.strip() == f"clockwork, version {__version__}", ran.stderr


def test_doctor_on_a_read_only_root_as_non_root(image: str) -> None:
    ran = docker("run", "--rm", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                 "--security-opt", "no-new-privileges", image, "doctor", "-o", "json")  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    checks = {c["name"]: c["ok"] for c in json.loads(ran.stdout)}
    assert checks["pyinfra (worker process)"] is True
    user = docker("run", "--rm", "--entrypoint", "id", image, "-u")
    assert user.stdout.strip() == "10001"
    config = docker("image", "inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", image)
    assert config.stdout.strip() == '["clockwork"] ["operator"]'
