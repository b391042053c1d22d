"""Shared fixtures: the real ``clockwork`` command in a scratch working directory; the real
control plane of the session (the cluster tier, and the operator tier's "real" backend)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.docker_lab import docker_ready

if TYPE_CHECKING:
    from tests.support.controlplane import ControlPlane
    from tests.support.llama import ModelServer

CLOCKWORK = str(Path(sys.executable).with_name("clockwork"))
REPO = Path(__file__).resolve().parents[1]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


CliRunner = Callable[..., CliResult]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--e2e", action="store_true", default=False, help="run the kind end-to-end tests")


# The API servers the operator tier's ``kube`` fixture offers (tests/operator/conftest.py).
BACKENDS = ("emulator", "real")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test using ``kube`` runs once per backend, or on those ``@pytest.mark.backends(...)`` names."""
    if "kube" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("kube", marker.args if marker else BACKENDS, indirect=True)


def uses_control_plane(item: pytest.Item) -> bool:
    """The test needs the real control plane: directly, or as the operator tier's "real" backend."""
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("kube") if callspec is not None else None
    return "control_plane" in getattr(item, "fixturenames", ()) or backend in ("real", "one")


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: the first test that really runs
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test to use the control plane may wait for a cold build: give it that long."""
    from tests.support.controlplane import BUILD_TIMEOUT
    from tests.support.llama import SETUP_TIMEOUT

    for uses, timeout in ((uses_control_plane, BUILD_TIMEOUT), (uses_model_server, SETUP_TIMEOUT)):
        for item in items:
            if uses(item):
                marker = item.get_closest_marker("timeout")
                if marker is None or (marker.args and marker.args[0] < timeout):
                    item.add_marker(pytest.mark.timeout(timeout + 300))
                break


def uses_model_server(item: pytest.Item) -> bool:
    return "model_server" in getattr(item, "fixturenames", ())


# What the session's control plane and model server were, for the summary at the end (``pytest_terminal_summary``).
_REAL_PARTS_SEEN: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Which real control plane the cluster and operator tiers ran against (the server's own /version)."""
    for line in _REAL_PARTS_SEEN:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd, kube-apiserver and kube-controller-manager for the session (tests/support/controlplane.py).

    The binaries are built by scripts/controlplane/build.sh (part of ``make test-deps``); where
    they cannot be built, the tests that need them skip with its error.
    """
    from tests.support.controlplane import ControlPlaneError, build_binaries, start_control_plane

    try:
        binaries = build_binaries()
    except ControlPlaneError as exc:
        pytest.skip(f"the control plane cannot be built here: {exc}")
    plane = start_control_plane(binaries, tmp_path_factory.mktemp("controlplane"))
    served = plane.get("/version").json()
    _REAL_PARTS_SEEN.append(
        f"real control plane: kube-apiserver {served['gitVersion']} (go {served['goVersion']}), "
        f"etcd {plane.versions['ETCD_VERSION']}, up in {plane.startup_seconds['total']:.1f} s"
    )
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    """A real language model for the session: llama.cpp's OpenAI-compatible server with
    SmolLM2-135M on 127.0.0.1 (tests/support/llama.py), at most an hour, stopped by PID.

    Set up by scripts/model/setup.sh (part of ``make test-deps``); where that cannot be done,
    the tests that need it skip with its error.
    """
    from tests.helpers import free_port
    from tests.support.llama import ModelServerError, model_folder, start_model_server

    try:
        folder = model_folder()
    except ModelServerError as exc:
        pytest.skip(f"the model server cannot be set up here: {exc}")
    server = start_model_server(folder, free_port(), tmp_path_factory.mktemp("model"))
    try:
        yield server
    finally:
        rate = server.tokens_per_second()
        _REAL_PARTS_SEEN.append(
            f"real model: SmolLM2-135M on llama.cpp, up in {server.startup_seconds:.1f} s, "
            f"generation {rate:.0f} tokens/s"
            if rate
            else "real model: SmolLM2-135M on llama.cpp (no timings)"
        )
        server.stop()


@pytest.fixture
def allow_model_requests() -> Iterator[None]:
    """This test talks to the session's real model server on purpose."""
    import pydantic_ai.models

    pydantic_ai.models.ALLOW_MODEL_REQUESTS = True
    try:
        yield
    finally:
        pydantic_ai.models.ALLOW_MODEL_REQUESTS = False


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """The real Docker engine with the registry-free test images (tests/support/docker_lab.py)."""
    reason = docker_ready()
    if reason:
        pytest.skip(f"Docker cannot be used here: {reason}")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def cli(workdir: Path) -> CliRunner:
    """Run the installed ``clockwork`` command as a separate process in ``workdir``."""

    def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> CliResult:
        proc = subprocess.run(
            [CLOCKWORK, *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "COLUMNS": "200", **(env or {})},
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture(autouse=True, scope="session")
def _no_real_model_requests() -> None:
    """No test may reach a real model provider by accident (pydantic-ai's own switch)."""
    import pydantic_ai.models

    pydantic_ai.models.ALLOW_MODEL_REQUESTS = False
