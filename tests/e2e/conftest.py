"""End-to-end tests on a real kind cluster (pytest-kind), opt-in with ``--e2e``.

They need a Docker engine that can run kind node images (Docker-in-Docker) and
network access for kind to fetch its node image; where either is missing they are
skipped with the reason. On a machine with neither a registry nor kind node images
(see docs/testing.md) they always skip; on a workstation or CI runner with Docker,
run ``pytest tests/e2e --e2e``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _why_not() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        return "no Docker engine answers `docker info`"
    images = subprocess.run(["docker", "images", "-q", "kindest/node"], capture_output=True, text=True, timeout=30)
    if not images.stdout.strip() and not os.environ.get("CW_E2E_ALLOW_PULL"):
        return "no kindest/node image present and pulling is not allowed here (set CW_E2E_ALLOW_PULL=1 to pull)"
    return None


@pytest.fixture(scope="session")
def e2e_enabled(request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("--e2e"):
        pytest.skip("kind e2e tests are opt-in: run with --e2e on a machine where kind can run (Docker-in-Docker)")
    reason = _why_not()
    if reason:
        pytest.skip(f"kind cannot run here: {reason}")


@pytest.fixture(scope="session")
def kind(e2e_enabled: None, request: pytest.FixtureRequest) -> Iterator[object]:
    """A kind cluster from kind-config.yaml with Clockwork's CRDs installed."""
    from pytest_kind import KindCluster

    cluster = KindCluster("clockwork-e2e")
    cluster.create(config_file=REPO / "kind-config.yaml")
    try:
        cluster.kubectl("apply", "-f", str(REPO / "crds"))
        cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        yield cluster
    finally:
        if not request.config.getoption("--keep-cluster", default=False):
            cluster.delete()
