"""The Job runner's pure parts: ConfigMap and Job from a plan, and reading the result.

Covers: no key ever lands in the ConfigMap (keys are Secret volumes, mode 0400);
a host with only an inline key cannot go to a Job; deadline, backoff, TTL and
owner; a host that is a Kubernetes node pins the pod there; both objects pass
kubernetes-validate --strict; the result line is found among log noise, and a log
without one becomes a failure that quotes it; a Job the Job controller failed at its
deadline reads as not finishing in time, with a Pod that never ran and so has no log.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import kubernetes_validate
import pytest

from clockwork.plan import HostResult, HostSpec, Origin, RunRequest, RunResult, SecretRef, result_line
from clockwork.runners.job import JobOptions, JobRunner, build_job, job_name, parse_result

OPTIONS = JobOptions(image="registry.example/clockwork:1.0", service_account="clockwork-worker")
ORIGIN = Origin(namespace="edge", kind="File", name="motd", uid="1234")


def ssh_host(name: str, **kw: object) -> HostSpec:
    return HostSpec.model_validate(
        {
            "name": name,
            "connector": "ssh",
            "address": "10.0.0.5",
            "private_key": "SECRET",
            "key_secret": SecretRef(name="pi-key", key="ssh-privatekey"),
            **kw,
        }
    )


def test_keys_are_mounted_from_secrets_never_put_in_the_config_map() -> None:
    request = RunRequest(hosts=[ssh_host("pi-1")], origin=ORIGIN, timeout_seconds=120)
    config_map, job = build_job(request, OPTIONS, "cw-motd-abc")
    assert "SECRET" not in json.dumps(config_map)
    plan = RunRequest.model_validate_json(config_map["data"]["request.json"])
    assert plan.hosts[0].private_key is None
    assert plan.hosts[0].key_file == "/var/run/clockwork/keys/0/key"
    pod = job["spec"]["template"]["spec"]
    secret = next(v for v in pod["volumes"] if v["name"] == "key-0")["secret"]
    assert secret == {"secretName": "pi-key", "defaultMode": 0o400, "items": [{"key": "ssh-privatekey", "path": "key"}]}
    assert job["metadata"]["namespace"] == "edge"
    assert job["spec"]["activeDeadlineSeconds"] == 180
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["ttlSecondsAfterFinished"] == 600
    assert job["metadata"]["ownerReferences"][0]["uid"] == "1234"
    assert pod["serviceAccountName"] == "clockwork-worker"
    assert pod["containers"][0]["command"][-2:] == ["--request", "/var/run/clockwork/plan/request.json"]
    assert "nodeSelector" not in pod


def test_inline_key_without_secret_cannot_go_to_a_job() -> None:
    host = HostSpec(name="pi", connector="ssh", address="10.0.0.5", private_key="SECRET")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="keys from Secrets"):
        build_job(RunRequest(hosts=[host]), OPTIONS, "x")


def test_a_kubernetes_node_pins_the_pod() -> None:
    request = RunRequest(hosts=[ssh_host("pi-1", kubernetes_node="edge-node-7")])
    pod = build_job(request, OPTIONS, "x")[1]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "edge-node-7"}
    assert pod["tolerations"] == [{"operator": "Exists"}]


def test_objects_are_valid_kubernetes() -> None:
    config_map, job = build_job(RunRequest(hosts=[ssh_host("pi-1")], origin=ORIGIN), OPTIONS, "cw-motd-abc")
    kubernetes_validate.validate(config_map, "1.33.0", strict=True)
    kubernetes_validate.validate(job, "1.33.0", strict=True)


def test_names_are_valid_and_distinct() -> None:
    request = RunRequest(hosts=[HostSpec(name="@local")], origin=Origin(namespace="a", kind="File", name="x" * 80))
    first, second = job_name(request), job_name(request)
    assert first != second
    assert len(first) <= 63
    assert first.startswith("cw-x")


def test_result_line_is_found_among_noise() -> None:
    result = RunResult(hosts=[HostResult(name="@local", connected=True, outcome="changed")])
    log = "pyinfra: warning\n" + result_line(result) + "\n"
    assert parse_result(log, RunRequest(hosts=[HostSpec(name="@local")])) == result
    missing = parse_result("Traceback: boom\nImportError: x", RunRequest(hosts=[HostSpec(name="@local")]))
    assert missing.error is not None
    assert "ImportError: x" in missing.error


class DeadlineApi:
    """A JobApi whose Job the Job controller failed at its activeDeadlineSeconds; its Pod never ran."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def create(self, api_version: str, plural: str, namespace: str, body: dict[str, Any]) -> None:
        pass

    async def get(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                                           "message": "Job was active longer than specified deadline"}]}}  # fmt: skip

    async def delete(self, api_version: str, plural: str, namespace: str, name: str) -> None:
        self.deleted.append(plural)

    async def pod_log(self, namespace: str, selector: str) -> str:
        raise RuntimeError("400 container worker is waiting to start")


def test_the_job_controllers_deadline_is_not_finishing_in_time() -> None:
    api = DeadlineApi()
    result = asyncio.run(JobRunner(api, OPTIONS).run(RunRequest(hosts=[HostSpec(name="@local")])))
    assert not result.ok
    assert "did not finish in time (DeadlineExceeded: Job was active longer" in (result.error or "")
    assert "no pod log: 400 container worker is waiting to start" in (result.error or "")
    assert api.deleted == ["configmaps"]  # the failed Job goes by its TTL
