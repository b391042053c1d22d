"""The API server itself refuses what the models refuse: the CEL rules of the generated CRDs.

The generated CRDs are installed on a real kube-apiserver (which also checks each rule compiles
and stays within its cost budget); every broken case of tests/support/cel_cases.py is refused
with the message local mode gives, and every good case is stored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from clockwork import crdgen
from clockwork.api.base import GROUP, VERSION
from clockwork.api.registry import ALL_KINDS
from tests.conftest import REPO
from tests.support.cel_cases import CASES, Case, document
from tests.support.controlplane import ControlPlane

pytestmark = pytest.mark.integration


def eventually(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)


def _established(ext: client.ApiextensionsV1Api, name: str) -> bool:
    crd = ext.read_custom_resource_definition(name)
    return any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or []))


@pytest.fixture(scope="module")
def api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api_client:
        ext = client.ApiextensionsV1Api(api_client)
        for info in ALL_KINDS.values():
            crd: dict[str, Any] = crdgen.crd_for(info)
            name = crd["metadata"]["name"]
            try:
                ext.create_custom_resource_definition(crd)
            except ApiException as exc:
                if exc.status != 409:
                    raise AssertionError(f"{name} refused: {exc.body}") from None
                crd["metadata"]["resourceVersion"] = ext.read_custom_resource_definition(name).metadata.resource_version
                ext.replace_custom_resource_definition(name, crd)
            eventually(f"{name} Established", lambda n=name: _established(ext, n))
        yield api_client


@pytest.fixture(scope="module")
def namespace(api: client.ApiClient) -> Iterator[str]:
    core = client.CoreV1Api(api)
    name = f"cel-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def _create(api: client.ApiClient, case: Case, namespace: str) -> dict[str, Any]:
    plural = ALL_KINDS[case.kind].plural
    body = document(case, f"{case.id}-{uuid.uuid4().hex[:6]}", namespace)
    result: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, body
    )
    return result


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_api_server_agrees(api: client.ApiClient, namespace: str, case: Case) -> None:
    if case.broken:
        with pytest.raises(ApiException) as info:
            _create(api, case, namespace)
        assert info.value.status == 422, info.value.body
        message = json.loads(info.value.body)["message"]
        assert case.expected in message, message
    else:
        stored = _create(api, case, namespace)
        assert stored["spec"] == case.spec


def _kubectl(control_plane: ControlPlane, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    kubectl = REPO / ".tools" / "bin" / "kubectl"
    binary = str(kubectl) if kubectl.exists() else shutil.which("kubectl")
    if binary is None:
        pytest.skip("no kubectl (make generate puts one into .tools/bin)")
    return subprocess.run(
        [binary, "--kubeconfig", str(control_plane.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_kubectl_applies_the_checked_in_crds_and_refuses_a_bad_object(
    control_plane: ControlPlane, api: client.ApiClient, namespace: str
) -> None:
    applied = _kubectl(control_plane, "apply", "-f", str(REPO / "crds"))
    assert applied.returncode == 0, applied.stderr
    assert "budget" not in applied.stderr
    case = next(c for c in CASES if c.id == "volume-both")
    bad = _kubectl(control_plane, "apply", "-n", namespace, "-f", "-", stdin=json.dumps(document(case, "bad")))
    assert bad.returncode != 0
    assert f"spec.volumes[1]: Invalid value: {case.expected}" in bad.stderr, bad.stderr
