"""Fixtures of the operator tier: an API server, and the real operator process.

``kube`` is the API server a test's scenario runs against, in two backends: "emulator"
(tests/support/kubeapi, one per test) and "real" (the session's kube-apiserver,
tests/support/controlplane.py, with a namespace per test: tests/support/realkube.py).
Every test that uses it runs against both (tests/conftest.py, pytest_generate_tests) unless
it is marked ``EMULATOR_ONLY`` (or the module is), ``REAL_ONLY``, or ``ONE_SERVER``: once, on
the real server where it runs here and on the emulator where it does not (for scenarios whose
subject is not the API server, such as the fleet's, and that cost minutes per run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import CLOCKWORK, REPO
from tests.helpers import free_port
from tests.support.controlplane import ControlPlane
from tests.support.kubeapi import Kube, KubeAPI
from tests.support.realkube import (
    OperatorAccount,
    RealKube,
    install_crds,
    install_operator_account,
    remove_operator_account,
)

EMULATOR_ONLY = pytest.mark.backends("emulator")
# What only a real server does (the emulator has no namespace controller, for one).
REAL_ONLY = pytest.mark.backends("real")
ONE_SERVER = pytest.mark.backends("one")


@pytest.fixture(scope="session")
def real_crds(control_plane: ControlPlane) -> list[str]:
    """The repo's CRDs on the session's control plane, Established."""
    return install_crds(control_plane, REPO / "crds")


@pytest.fixture(scope="session")
def operator_account(control_plane: ControlPlane) -> Iterator[OperatorAccount]:
    """The chart's ServiceAccount and RBAC: on the real server the operator has exactly those rights."""
    account = install_operator_account(control_plane)
    try:
        yield account
    finally:
        remove_operator_account(control_plane, account)


@pytest.fixture
def kube(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kube]:
    api: KubeAPI | RealKube
    backend = request.param
    if backend == "one":  # the real server where it runs here, else the emulator
        try:
            request.getfixturevalue("control_plane")
            backend = "real"
        except pytest.skip.Exception:
            backend = "emulator"
    if backend == "emulator":
        api = KubeAPI(tmp_path).start(REPO / "crds")
    else:
        request.getfixturevalue("real_crds")
        plane, account = request.getfixturevalue("control_plane"), request.getfixturevalue("operator_account")
        api = RealKube(plane, tmp_path, account).start()
    try:
        yield api
    finally:
        api.stop()


@dataclass
class OperatorProcess:
    proc: subprocess.Popen[bytes]
    log: Path
    metrics_url: str
    health_url: str

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def metrics(self) -> str:
        return requests.get(self.metrics_url, timeout=5).text

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


class OperatorLauncher:
    """Starts `clockwork operator` processes against ``kube``'s server; stops them by PID."""

    def __init__(self, kube: Kube, workdir: Path) -> None:
        self.kube = kube
        self.workdir = workdir
        self.started: list[OperatorProcess] = []

    def start(self, **env: str) -> OperatorProcess:
        metrics_port, health_port = free_port(), free_port()
        log = self.workdir / f"operator-{len(self.started)}.log"
        environment = {
            **os.environ,
            # on the real server: a token of the chart's ServiceAccount, the chart's RBAC and nothing more
            "KUBECONFIG": str(self.kube.operator_kubeconfig()),
            "CW_METRICS_ADDRESS": "127.0.0.1",
            "CW_METRICS_PORT": str(metrics_port),
            "CW_HEALTH_PORT": str(health_port),
            "CW_WATCH_TIMEOUT": "30",
            "CW_RETRY_SECONDS": "2",
            # What target local: true records of what it changed stays in this test's folder.
            "CW_NODE_STATE_DIR": str(self.workdir / "node-state"),
            **env,
        }
        handle = log.open("wb")
        proc = subprocess.Popen(
            [CLOCKWORK, "operator", "--log-level", "DEBUG"],
            cwd=self.workdir, env=environment, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
        handle.close()
        operator = OperatorProcess(
            proc, log, f"http://127.0.0.1:{metrics_port}/metrics", f"http://127.0.0.1:{health_port}/healthz"
        )
        self.started.append(operator)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"operator exited with {proc.returncode}:\n{operator.logs()[-4000:]}")
            try:
                if requests.get(operator.health_url, timeout=2).status_code == 200:
                    return operator
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"operator not live within 60s:\n{operator.logs()[-4000:]}")

    def stop_all(self) -> None:
        for operator in self.started:
            operator.stop()


@pytest.fixture
def operator(kube: Kube, tmp_path: Path) -> Iterator[OperatorLauncher]:
    launcher = OperatorLauncher(kube, tmp_path)
    try:
        yield launcher
    finally:
        launcher.stop_all()
