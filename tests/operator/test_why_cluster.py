"""`clockwork why --cluster` against the API the operator writes to: the same chain of
reasons as in local mode, read from the objects' status (a File waiting for a
dependency that waits for approval; the hint is the annotation that approves it), and
a clear error when the cluster cannot be reached."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CLOCKWORK
from tests.helpers import free_port
from tests.operator.conftest import OperatorLauncher
from tests.operator.resources import file_obj, wait_condition
from tests.support.kubeapi import Kube

pytestmark = pytest.mark.integration


def why(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "COLUMNS": "200"}
    return subprocess.run([CLOCKWORK, "why", "--cluster", *args], capture_output=True, text=True, env=env, timeout=60)


def test_why_reads_the_chain_from_the_cluster(kube: Kube, operator: OperatorLauncher, tmp_path: Path) -> None:
    operator.start()
    kube.create(
        "files", file_obj("gated", path=str(tmp_path / "g.txt"), content="x", completion={"approval": "manual"})
    )
    kube.create("files", file_obj("after", path=str(tmp_path / "a.txt"), content="y",
                                  dependsOn=[{"kind": "File", "name": "gated"}]))  # fmt: skip
    waiting = wait_condition(kube, "gated", "Applied", "False", "AwaitingApproval")
    completed_hash = waiting["status"]["completion"]["completedHash"]
    wait_condition(kube, "after", "Applied", "False", "WaitingForDependencies")

    # Without -n, the namespace of the kubeconfig's context, as kubectl takes it.
    ns = kube.namespace
    shown = why(kube.kubeconfig, "files/after")
    assert shown.returncode == 1, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"File/{ns}/after waits for its dependencies")
    assert lines[1].startswith(f"  └ File/{ns}/gated waits for approval")
    assert f"kubectl annotate -n {ns} files gated clockwork.dev/approve={completed_hash}" in shown.stdout

    missing = why(kube.kubeconfig, "File/nothing", "-n", ns, "-o", "json")
    assert json.loads(missing.stdout)[0]["reasons"][0]["text"].startswith("does not exist")


def test_an_unreachable_cluster_is_said(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    port = free_port()
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))  # fmt: skip
    shown = why(config, "File/x")
    assert shown.returncode == 1
    assert f"cannot reach the cluster at http://127.0.0.1:{port}" in shown.stderr
    assert "Traceback" not in shown.stderr
