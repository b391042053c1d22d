"""A stand-in kubelet for the API emulator: it runs the Jobs the Job runner creates.

For each new Job it reads the plan from the Job's ConfigMap, runs the real worker
(`python -m clockwork.runners.worker --request FILE`) as a process on this
machine, records a Pod with the worker's output as its log, and marks the Job
Complete or Failed — what a real kubelet and Job controller would have done.
``hold=True`` leaves Jobs pending (to test deadlines); ``before_run(job_name)`` is called
before a Job is run (to break its plan, say). On the real control plane,
tests/support/standin_kubelet.py plays the kubelet and the real Job controller does the rest.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.kubeapi import ApiStatus, KubeAPI


class FakeKubelet:
    def __init__(
        self,
        kube: KubeAPI,
        namespace: str = "default",
        hold: bool = False,
        before_run: Callable[[str], None] | None = None,
    ) -> None:
        self.kube = kube
        self.before_run = before_run
        self.namespace = namespace
        self.hold = hold
        self.seen: list[dict] = []  # type: ignore[type-arg]
        self.plans: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="fake-kubelet")

    def __enter__(self) -> FakeKubelet:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                jobs = self.kube.list("jobs", self.namespace, group="batch", version="v1")
            except ApiStatus:
                jobs = []
            for job in jobs:
                name = job["metadata"]["name"]
                if name in {j["metadata"]["name"] for j in self.seen}:
                    continue
                self.seen.append(job)
                if not self.hold:
                    self._run(job)
            self._stop.wait(0.1)

    def _run(self, job: dict) -> None:  # type: ignore[type-arg]
        name = job["metadata"]["name"]
        if self.before_run is not None:
            self.before_run(name)
        config_map = self.kube.get("configmaps", name, self.namespace, group="", version="v1")
        plan = config_map["data"]["request.json"]
        self.plans[name] = plan
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "request.json"
            path.write_text(plan)
            proc = subprocess.run([sys.executable, "-m", "clockwork.runners.worker", "--request", str(path)],
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
        pod = f"{name}-pod"
        labels = job["spec"]["template"]["metadata"]["labels"]
        self.kube.create("pods", {"apiVersion": "v1", "kind": "Pod",
                                  "metadata": {"name": pod, "namespace": self.namespace, "labels": labels},
                                  "spec": {"containers": [{"name": "worker", "image": "x"}]}},
                         group="", version="v1")  # fmt: skip
        self.kube.emulator.pod_logs[(self.namespace, pod)] = proc.stderr + proc.stdout
        outcome = "Complete" if proc.returncode == 0 else "Failed"
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status = {"conditions": [{"type": outcome, "status": "True", "lastTransitionTime": now}],
                  "succeeded" if outcome == "Complete" else "failed": 1}  # fmt: skip
        self.kube.patch("jobs", name, {"status": status}, self.namespace, sub="status", group="batch", version="v1")
