"""The Docker tier: a real engine and registry-free images (see tests/support/docker_lab.py)."""

from __future__ import annotations

import pytest

from tests.support.docker_lab import docker_ready


@pytest.fixture(scope="session")
def docker_engine() -> None:
    reason = docker_ready()
    if reason:
        pytest.skip(f"Docker cannot be used here: {reason}")
