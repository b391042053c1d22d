"""The Job runner: the same worker, inside a Kubernetes Job built from the operator image.

``build_job`` is pure: a RunRequest in, a ConfigMap (the plan, never a key) and a
Job out. Keys of SSH hosts are mounted from their Secrets (mode 0400) and the plan
points at the mounted files. The runner creates both, waits for the Job to finish
(bounded by ``activeDeadlineSeconds``), reads the result the worker prints as its
last log line, and cleans up the ConfigMap (the Job goes by its TTL).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from dataclasses import dataclass
from typing import Any, Protocol

from clockwork.plan import RESULT_MARKER, RunRequest, RunResult, tail

PLAN_DIR = "/var/run/clockwork/plan"
KEY_DIR = "/var/run/clockwork/keys"
GRACE_SECONDS = 60
LABEL = "clockwork.dev/run"


@dataclass(frozen=True)
class JobOptions:
    image: str
    namespace: str = "default"
    service_account: str | None = None
    backoff_limit: int = 0
    ttl_seconds: int = 600
    # Seconds between looks at the Job while waiting for it.
    poll_seconds: float = 1.0
    # Time for scheduling and image pull beyond the plan's own timeout.
    grace_seconds: int = GRACE_SECONDS


def job_name(request: RunRequest) -> str:
    """A name per run: the resource (when known) and a hash of the plan and the time."""
    base = request.origin.name if request.origin else "run"
    digest = hashlib.sha256(f"{request.model_dump_json()}{time.time_ns()}".encode()).hexdigest()[:8]
    return f"cw-{base}"[:52].rstrip("-.") + f"-{digest}"


def build_job(request: RunRequest, options: JobOptions, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ConfigMap with the plan and the Job that runs it. Pure."""
    namespace = request.origin.namespace if request.origin else options.namespace
    hosts = []
    volumes: list[dict[str, Any]] = [{"name": "plan", "configMap": {"name": name}}]
    mounts: list[dict[str, Any]] = [{"name": "plan", "mountPath": PLAN_DIR, "readOnly": True}]
    for index, host in enumerate(request.hosts):
        update: dict[str, Any] = {"private_key": None}
        if host.key_secret is not None:
            volume = f"key-{index}"
            volumes.append({"name": volume, "secret": {
                "secretName": host.key_secret.name, "defaultMode": 0o400,
                "items": [{"key": host.key_secret.key, "path": "key"}],
            }})  # fmt: skip
            mounts.append({"name": volume, "mountPath": f"{KEY_DIR}/{index}", "readOnly": True})
            update["key_file"] = f"{KEY_DIR}/{index}/key"
        elif host.private_key is not None:
            raise ValueError(f"host {host.name}: a Job can only use keys from Secrets (keySecret)")
        hosts.append(host.model_copy(update=update))
    plan = request.model_copy(update={"hosts": hosts})
    labels = {LABEL: name, "app.kubernetes.io/managed-by": "clockwork"}
    owner = []
    if request.origin is not None and request.origin.uid:
        owner = [{"apiVersion": "clockwork.dev/v1alpha1", "kind": request.origin.kind, "name": request.origin.name,
                  "uid": request.origin.uid, "controller": False}]  # fmt: skip
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    if owner:
        metadata["ownerReferences"] = owner
    config_map = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
        "data": {"request.json": plan.model_dump_json()},
    }  # fmt: skip
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "worker",
            "image": options.image,
            "command": ["python", "-m", "clockwork.runners.worker", "--request", f"{PLAN_DIR}/request.json"],
            "volumeMounts": mounts,
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            "resources": {"requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"memory": "512Mi"}},
        }],
        "volumes": volumes,
    }  # fmt: skip
    if options.service_account:
        pod["serviceAccountName"] = options.service_account
    pinned = {h.kubernetes_node for h in request.hosts if h.kubernetes_node}
    if len(pinned) == 1 and all(h.kubernetes_node for h in request.hosts):
        # Every host is one Kubernetes node: run the worker there (it may be tainted for edge use).
        pod["nodeSelector"] = {"kubernetes.io/hostname": pinned.pop()}
        pod["tolerations"] = [{"operator": "Exists"}]
    job = {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
        "spec": {
            "backoffLimit": options.backoff_limit,
            "activeDeadlineSeconds": request.timeout_seconds + options.grace_seconds,
            "ttlSecondsAfterFinished": options.ttl_seconds,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }  # fmt: skip
    return config_map, job


def parse_result(log: str, request: RunRequest) -> RunResult:
    """The worker's result line from a pod log, or a failure quoting the log's end."""
    for line in reversed(log.splitlines()):
        if line.startswith(RESULT_MARKER):
            return RunResult.model_validate_json(line[len(RESULT_MARKER) :])
    return RunResult.failed(request.hosts, f"the Job printed no result; log ends: {tail(log.strip(), 800)}")


class JobApi(Protocol):
    async def create(self, api_version: str, plural: str, namespace: str, body: dict[str, Any]) -> None: ...

    async def get(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def delete(self, api_version: str, plural: str, namespace: str, name: str) -> None: ...

    async def pod_log(self, namespace: str, selector: str) -> str: ...


class JobRunner:
    name = "job"

    def __init__(self, api: JobApi, options: JobOptions) -> None:
        self.api = api
        self.options = options

    async def run(self, request: RunRequest) -> RunResult:
        started = time.monotonic()
        name = job_name(request)
        try:
            config_map, job = build_job(request, self.options, name)
        except ValueError as exc:
            return RunResult.failed(request.hosts, str(exc))
        namespace = job["metadata"]["namespace"]
        try:
            await self.api.create("v1", "configmaps", namespace, config_map)
            await self.api.create("batch/v1", "jobs", namespace, job)
            finished = await self._wait(
                namespace, name, job["spec"]["activeDeadlineSeconds"] + self.options.grace_seconds
            )
            try:
                log = await self.api.pod_log(namespace, f"{LABEL}={name}")
            except Exception as exc:  # a Pod that never ran has no log (the server answers 400)
                log = f"(no pod log: {exc})"
        except Exception as exc:  # the API failing is the run failing, with the reason
            return RunResult.failed(request.hosts, f"Job {namespace}/{name}: {exc}", time.monotonic() - started)
        finally:
            await _quietly(self.api.delete("v1", "configmaps", namespace, name))
        if finished is None or finished.get("reason") == "DeadlineExceeded":
            # Ours, or the Job controller's (activeDeadlineSeconds): a Job it failed goes by its TTL,
            # one still running is deleted (with its Pods) so that it stops.
            why = "" if finished is None else f" ({finished.get('reason')}: {finished.get('message', '')})"
            if finished is None:
                await _quietly(self.api.delete("batch/v1", "jobs", namespace, name))
            return RunResult.failed(
                request.hosts, f"Job {namespace}/{name} did not finish in time{why}; log: {tail(log, 500)}"
            )
        result = parse_result(log, request)
        if finished.get("reason") == "Gone" and result.error is not None:
            result.error = f"Job {namespace}/{name}: {finished['message']}; {result.error}"
        if finished["type"] != "Complete" and result.error is None and all(h.outcome != "failed" for h in result.hosts):
            result = RunResult.failed(request.hosts, f"Job {namespace}/{name} failed: {tail(log, 500)}")
        result.duration_seconds = round(time.monotonic() - started, 3)
        return result

    async def _wait(self, namespace: str, name: str, deadline_seconds: float) -> dict[str, Any] | None:
        """The Job's Complete or Failed condition once it has one; None when the deadline passes."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            job = await self.api.get("batch/v1", "jobs", namespace, name)
            if job is None:
                # Gone before its end was seen: its TTL ran out first, or someone deleted it.
                # Waiting on would wait for nothing until the deadline.
                return {"type": "Failed", "reason": "Gone",
                        "message": "the Job was removed before the runner saw it finish"}  # fmt: skip
            for condition in ((job or {}).get("status") or {}).get("conditions") or []:
                if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
                    return dict(condition)
            await asyncio.sleep(self.options.poll_seconds)
        return None


async def _quietly(call: Any) -> None:
    # Cleanup is best effort: the Job's TTL removes it anyway.
    with contextlib.suppress(Exception):
        await call
