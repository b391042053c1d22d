"""The Job runner against both API servers, with a stand-in running the real worker.

On the emulator, FakeKubelet (tests/support/kubelet.py) plays Job controller and kubelet. On
the real control plane the real Job controller creates the Pod and finishes the Job, and
StandinKubelet (tests/support/standin_kubelet.py) binds the Pod to its Node, runs the worker,
reports the Pod's status and serves its log to ``pods/log``.

Covers: a plan goes out as a ConfigMap and a Job, the worker's result comes back from the pod
log and the ConfigMap is removed; a Job that fails without a result reports its log; a Job
that never finishes is given up at its deadline; the operator with `runner: job` reaches Ready
through a Job. On the real server besides: the Job controller's pod-tracking finalizer is
removed; ``ttlSecondsAfterFinished`` removes a finished Job, and its Pods go with it; the Job
is owned by its resource and goes with it (garbage collection), its Pods too; the Job
controller's own deadline (``activeDeadlineSeconds``) is reported as not finishing in time;
what a run that never cleaned up left (its ConfigMap too) goes with the resource.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from clockwork.operator.kube import KubeClient
from clockwork.plan import HostSpec, Operation, Origin, RunRequest, RunResult
from clockwork.runners.job import LABEL, JobOptions, JobRunner
from tests.operator.conftest import REAL_ONLY, OperatorLauncher
from tests.support.kubeapi import Kube, KubeAPI
from tests.support.kubelet import FakeKubelet
from tests.support.realkube import RealKube
from tests.support.standin_kubelet import StandinKubelet

pytestmark = [pytest.mark.integration]

JOB_TRACKING = "batch.kubernetes.io/job-tracking"
# The garbage collector learns of a new kind (our CRDs) by discovery, every 30 s: the first
# collection of a File's dependents can take that long.
GC_SECONDS = 90.0

Kubelet = FakeKubelet | StandinKubelet


@pytest.fixture
def kubelet(kube: Kube, tmp_path: Path) -> Callable[..., AbstractContextManager[Kubelet]]:
    """The kubelet of ``kube``'s backend: ``kubelet(hold=..., before_run=...)``."""

    def make(hold: bool = False, before_run: Callable[[str], None] | None = None) -> AbstractContextManager[Kubelet]:
        if isinstance(kube, KubeAPI):
            return FakeKubelet(kube, kube.namespace, hold=hold, before_run=before_run)
        return StandinKubelet(kube, tmp_path / "kubelet", hold=hold, before_run=before_run)

    return make


class NoCleanup(KubeClient):
    """A runner's client that never removes its ConfigMap: as if the operator died mid-run."""

    async def delete(self, api_version: str, plural: str, namespace: str, name: str) -> None:
        if plural != "configmaps":
            await super().delete(api_version, plural, namespace, name)


def run(kube: Kube, request: RunRequest, client_class: type[KubeClient] = KubeClient, **options: Any) -> RunResult:
    client = client_class.from_kubeconfig(str(kube.operator_kubeconfig()))  # with the operator's rights
    runner = JobRunner(client, JobOptions(image="clockwork:test", namespace=kube.namespace, poll_seconds=0.2,
                                          **options))  # fmt: skip
    try:
        return asyncio.run(runner.run(request))
    finally:
        client.close()


def ours(kube: Kube, plural: str, group: str = "", version: str = "v1") -> list[dict[str, Any]]:
    """The objects of ``plural`` in the test's namespace the runner made (by its label)."""
    return [o for o in kube.list(plural, group=group, version=version) if LABEL in (o["metadata"].get("labels") or {})]


def jobs(kube: Kube) -> list[dict[str, Any]]:
    return ours(kube, "jobs", "batch")


def put(path: Path) -> Operation:
    return Operation(id="put", op="clockwork.put", args={"dest": str(path), "content": "from a job\n", "mode": "0644"})


def test_plan_runs_in_a_job_and_the_result_comes_back(kube: Kube, kubelet: Any, tmp_path: Path) -> None:
    target = tmp_path / "job.txt"
    file = kube.create("files", {"apiVersion": "clockwork.dev/v1alpha1", "kind": "File", "metadata": {"name": "motd"},
                                 "spec": {"path": str(target), "content": "from a job\n"}})  # fmt: skip
    origin = Origin(namespace=kube.namespace, kind="File", name="motd", uid=file["metadata"]["uid"])
    request = RunRequest(hosts=[HostSpec(name="@local")], operations=[put(target)], origin=origin)
    with kubelet() as runs:
        result = run(kube, request)
        assert result.ok, result.error
        assert result.hosts[0].outcome == "changed"
        assert target.read_text() == "from a job\n"
        [job] = runs.seen
        assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "clockwork:test"
        assert job["metadata"]["name"].startswith("cw-motd-")
        assert ours(kube, "configmaps") == []  # cleaned up
        if not isinstance(kube, RealKube):
            return
        # The real Job controller finished it, and let go of its Pod (its tracking finalizer).
        [pod] = ours(kube, "pods")
        assert pod["status"]["phase"] == "Succeeded"
        assert JOB_TRACKING not in (pod["metadata"].get("finalizers") or [])
        assert [(o["kind"], o["name"], o.get("controller")) for o in pod["metadata"]["ownerReferences"]] == [
            ("Job", job["metadata"]["name"], True)
        ]
        [owner] = jobs(kube)[0]["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"]) == ("File", file["metadata"]["uid"])
        # The File goes: garbage collection takes its Job, and the Job's Pod.
        kube.delete("files", "motd")
        kube.wait_for("the File's Job and Pod collected", lambda: not jobs(kube) and not ours(kube, "pods"),
                      timeout=GC_SECONDS)  # fmt: skip


@REAL_ONLY
def test_what_a_run_leaves_goes_with_its_resource(kube: Kube, kubelet: Any, tmp_path: Path) -> None:
    """The ConfigMap and the Job are owned by the resource: garbage collection takes them (and the Pod)
    when it goes, should the runner never have cleaned up."""
    file = kube.create("files", {"apiVersion": "clockwork.dev/v1alpha1", "kind": "File", "metadata": {"name": "left"},
                                 "spec": {"path": str(tmp_path / "left"), "content": "x\n"}})  # fmt: skip
    origin = Origin(namespace=kube.namespace, kind="File", name="left", uid=file["metadata"]["uid"])
    with kubelet():
        result = run(kube, RunRequest(hosts=[HostSpec(name="@local")], origin=origin), NoCleanup)
        assert result.ok, result.error
        [config_map] = ours(kube, "configmaps")
        assert [o["uid"] for o in config_map["metadata"]["ownerReferences"]] == [file["metadata"]["uid"]]
        kube.delete("files", "left")
        kube.wait_for("the ConfigMap, Job and Pod collected",
                      lambda: not ours(kube, "configmaps") and not jobs(kube) and not ours(kube, "pods"),
                      timeout=GC_SECONDS)  # fmt: skip


def test_failed_job_without_result_reports_its_log(kube: Kube, kubelet: Any) -> None:
    request = RunRequest(hosts=[HostSpec(name="@local")])

    def break_plan(name: str) -> None:  # the worker will get an unreadable plan
        kube.patch("configmaps", name, {"data": {"request.json": "{not json"}}, group="", version="v1")

    with kubelet(before_run=break_plan) as runs:
        # A TTL of a few seconds: long enough for the runner to read the failed Job's log first.
        result = run(kube, request, ttl_seconds=5)
        assert not result.ok
        assert result.hosts[0].outcome == "failed"
        assert "the Job printed no result" in (result.error or "")
        assert len(runs.seen) == 1
        if isinstance(kube, RealKube):
            # ttlSecondsAfterFinished: the ttl-after-finished controller removes the failed Job, GC its Pod.
            kube.wait_for("the finished Job removed by its TTL", lambda: not jobs(kube) and not ours(kube, "pods"),
                          timeout=GC_SECONDS)  # fmt: skip


def test_job_removed_while_it_runs_ends_the_wait(kube: Kube, kubelet: Any) -> None:
    """A Job deleted before it finished (by hand, or its TTL ran out before the runner looked)
    is reported at once instead of being waited for until the deadline (600 s here)."""
    request = RunRequest(hosts=[HostSpec(name="@local")])

    def remove_once_created() -> None:
        found = kube.wait_for("the runner's Job", lambda: jobs(kube), timeout=60)
        kube.delete("jobs", found[0]["metadata"]["name"], group="batch", version="v1")

    with kubelet(hold=True):
        remover = threading.Thread(target=remove_once_created, daemon=True)
        remover.start()
        started = time.monotonic()
        result = run(kube, request)
        remover.join(timeout=60)
    assert not result.ok
    assert "removed before the runner saw it finish" in (result.error or "")
    assert time.monotonic() - started < request.timeout_seconds / 2


def test_job_that_never_finishes_is_given_up(kube: Kube, kubelet: Any) -> None:
    request = RunRequest(hosts=[HostSpec(name="@local")], timeout_seconds=1)
    with kubelet(hold=True) as runs:
        # activeDeadlineSeconds 1 + 3; the runner's own deadline 3 s later
        result = run(kube, request, grace_seconds=3, ttl_seconds=1)
        assert not result.ok
        assert "did not finish in time" in (result.error or "")
        assert len(runs.seen) == 1
        if isinstance(kube, RealKube):
            # The real Job controller enforced activeDeadlineSeconds before the runner's deadline,
            # and deleted the Pod it had started.
            assert "DeadlineExceeded" in (result.error or "")
        # Deleted on giving up (emulator), or removed by its TTL once the Job controller failed it.
        kube.wait_for("no Job and no Pod left", lambda: not jobs(kube) and not ours(kube, "pods"), timeout=GC_SECONDS)


def test_operator_with_runner_job(kube: Kube, kubelet: Any, operator: OperatorLauncher, tmp_path: Path) -> None:
    target = tmp_path / "via-job.txt"
    with kubelet() as runs:
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
        assert len(runs.seen) == 1
        health = kube.get("files", "viajob")["status"]["health"]["results"]
        assert health and all(r["ok"] for r in health)
