"""The operator scenarios on a real kind cluster, driven with kubectl (opt-in: --e2e).

The operator runs as a local process against the kind API server (the image and
Helm install are covered by the chart's e2e test), so these prove the handlers,
status subresource, finalizers and Events against a real kube-apiserver.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CLOCKWORK

pytestmark = pytest.mark.e2e


@pytest.fixture
def operator(kind: Any, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "KUBECONFIG": str(kind.kubeconfig_path),
        "CW_METRICS_PORT": "0",
        "CW_HEALTH_PORT": "0",
    }
    log = (tmp_path / "operator.log").open("wb")
    proc = subprocess.Popen([CLOCKWORK, "operator"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def get(kind: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(kind.kubectl("get", "file", name, "-o", "json")))
    except subprocess.CalledProcessError:
        return None


def wait(what: str, predicate: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def ready(obj: dict[str, Any] | None) -> bool:
    conditions = (obj or {}).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_apply_ready_update_delete(kind: Any, operator: subprocess.Popen[bytes], tmp_path: Path) -> None:
    target = tmp_path / "motd.txt"
    manifest = tmp_path / "motd.yaml"

    def write(content: str) -> None:
        manifest.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "clockwork.dev/v1alpha1",
                    "kind": "File",
                    "metadata": {"name": "motd", "namespace": "default"},
                    "spec": {"path": str(target), "content": content},
                }
            )
        )

    write("v1\n")
    kind.kubectl("apply", "-f", str(manifest))
    wait("Ready", lambda: ready(get(kind, "motd")))
    assert target.read_text() == "v1\n"
    columns = kind.kubectl("get", "clockwork").splitlines()[0].split()
    assert columns == ["NAME", "READY", "HEALTHY", "TARGET", "AGE"]

    write("v2\n")
    kind.kubectl("apply", "-f", str(manifest))
    wait("v2 on disk", lambda: target.exists() and target.read_text() == "v2\n")

    kind.kubectl("delete", "-f", str(manifest), "--timeout=60s")
    wait("object gone", lambda: get(kind, "motd") is None)
    assert not target.exists()


def test_helm_install_and_examples_ready(kind: Any, tmp_path: Path) -> None:
    """The kind quick start: image built and loaded, chart installed, an example Ready."""
    from tests.conftest import REPO

    image = "clockwork/operator:e2e"
    subprocess.run(["docker", "build", "-t", image, str(REPO)], check=True)
    kind.load_docker_image(image)
    helm = REPO / ".tools" / "bin" / "helm"
    subprocess.run(
        [str(helm), "upgrade", "--install", "clockwork", str(REPO / "charts" / "clockwork"),
         "--namespace", "clockwork-system", "--create-namespace", "--kubeconfig", str(kind.kubeconfig_path),
         "--set", "image.repository=clockwork/operator", "--set", "image.tag=e2e", "--set", "image.pullPolicy=Never",
         "--wait", "--timeout", "5m"],
        check=True,
    )  # fmt: skip
    kind.kubectl("apply", "-f", str(REPO / "manifests" / "examples" / "directory.yaml"))
    kind.kubectl("wait", "--for=condition=Ready", "directory/app-data", "--timeout=180s")
