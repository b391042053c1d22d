"""The Job runner against the API emulator, with a stand-in kubelet running the real worker.

Covers: a plan goes out as a ConfigMap and a Job, the worker's result comes back
from the pod log and the ConfigMap is removed; a Job that fails without a result
reports its log; a Job that never finishes is given up at its deadline; the
operator with `runner: job` reaches Ready through a Job.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clockwork.operator.kube import KubeClient
from clockwork.plan import HostSpec, Operation, Origin, RunRequest, RunResult
from clockwork.runners.job import JobOptions, JobRunner
from tests.operator.conftest import EMULATOR_ONLY, OperatorLauncher
from tests.support.kubeapi import KubeAPI
from tests.support.kubelet import FakeKubelet

pytestmark = [pytest.mark.integration, EMULATOR_ONLY]


def run(kube: KubeAPI, request: RunRequest, **options: object) -> RunResult:
    client = KubeClient.from_kubeconfig(str(kube.kubeconfig))
    runner = JobRunner(client, JobOptions(image="clockwork:test", poll_seconds=0.2, **options))  # type: ignore[arg-type]
    try:
        return asyncio.run(runner.run(request))
    finally:
        client.close()


def put(path: Path) -> Operation:
    return Operation(id="put", op="files.put", args={"dest": str(path), "content": "from a job\n", "mode": "0644"})


def test_plan_runs_in_a_job_and_the_result_comes_back(kube: KubeAPI, tmp_path: Path) -> None:
    target = tmp_path / "job.txt"
    request = RunRequest(hosts=[HostSpec(name="@local")], operations=[put(target)],
                         origin=Origin(namespace="default", kind="File", name="motd"))  # fmt: skip
    with FakeKubelet(kube) as kubelet:
        result = run(kube, request)
    assert result.ok, result.error
    assert result.hosts[0].outcome == "changed"
    assert target.read_text() == "from a job\n"
    [job] = kubelet.seen
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "clockwork:test"
    assert job["metadata"]["name"].startswith("cw-motd-")
    assert kube.list("configmaps", group="", version="v1") == []  # cleaned up


def test_failed_job_without_result_reports_its_log(kube: KubeAPI) -> None:
    request = RunRequest(hosts=[HostSpec(name="@local")])
    with FakeKubelet(kube) as kubelet:
        original = kubelet._run  # the worker will get an unreadable plan

        def broken(job: dict) -> None:  # type: ignore[type-arg]
            name = job["metadata"]["name"]
            kube.patch("configmaps", name, {"data": {"request.json": "{not json"}}, group="", version="v1")
            original(job)

        kubelet._run = broken  # type: ignore[method-assign]
        result = run(kube, request)
    assert not result.ok
    assert result.hosts[0].outcome == "failed"


def test_job_that_never_finishes_is_given_up(kube: KubeAPI) -> None:
    request = RunRequest(hosts=[HostSpec(name="@local")], timeout_seconds=1)
    with FakeKubelet(kube, hold=True):
        result = run(kube, request, grace_seconds=1)
    assert not result.ok
    assert "did not finish in time" in (result.error or "")
    assert kube.list("jobs", group="batch", version="v1") == []  # deleted on giving up


def test_operator_with_runner_job(kube: KubeAPI, operator: OperatorLauncher, tmp_path: Path) -> None:
    target = tmp_path / "via-job.txt"
    with FakeKubelet(kube) as kubelet:
        operator.start(CW_JOB_IMAGE="clockwork:test")
        kube.create("files", {"apiVersion": "clockwork.dev/v1alpha1", "kind": "File", "metadata": {"name": "viajob"},
                              "spec": {"path": str(target), "content": "hi\n", "runner": "job"}})  # fmt: skip

        def ready() -> bool:
            obj = kube.get("files", "viajob")
            return any(
                c["type"] == "Ready" and c["status"] == "True" for c in obj.get("status", {}).get("conditions", [])
            )

        kube.wait_for("Ready through Jobs", ready, timeout=60)
        assert target.read_text() == "hi\n"
        # A File's check rides along with its apply: one Job did both.
        assert len(kubelet.seen) == 1
        health = kube.get("files", "viajob")["status"]["health"]["results"]
        assert health and all(r["ok"] for r in health)
