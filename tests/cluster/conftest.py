"""The cluster tier: a real control plane (etcd, kube-apiserver, kube-controller-manager) per session.

See tests/support/controlplane.py. The binaries are built by scripts/controlplane/build.sh (part
of ``make test-deps``); where they cannot be built, the tests that need them skip with its error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.controlplane import (
    BUILD_TIMEOUT,
    ControlPlane,
    ControlPlaneError,
    build_binaries,
    start_control_plane,
)


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: the first test that really runs
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test to use the control plane may wait for a cold build: give it that long."""
    for item in items:
        if "control_plane" in getattr(item, "fixturenames", ()):
            marker = item.get_closest_marker("timeout")
            if marker is None or (marker.args and marker.args[0] < BUILD_TIMEOUT):
                item.add_marker(pytest.mark.timeout(BUILD_TIMEOUT + 300))
            return


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    try:
        binaries = build_binaries()
    except ControlPlaneError as exc:
        pytest.skip(f"the control plane cannot be built here: {exc}")
    plane = start_control_plane(binaries, tmp_path_factory.mktemp("controlplane"))
    try:
        yield plane
    finally:
        plane.stop()
