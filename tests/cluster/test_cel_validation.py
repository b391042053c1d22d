"""The API server itself refuses what the models refuse: the CEL rules of the generated CRDs.

The generated CRDs are installed on a real kube-apiserver (which also checks each rule compiles
and stays within its cost budget); every broken case of tests/support/cel_cases.py is refused
with the message local mode gives, and every good case is stored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from clockwork.api.base import GROUP, VERSION
from clockwork.api.registry import ALL_KINDS
from tests.conftest import REPO
from tests.support.cel_cases import CASES, Case, document
from tests.support.controlplane import ControlPlane
from tests.support.realkube import install_crds

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    # The checked-in CRDs are make generate's output (a test fails on drift): the rules as generated.
    install_crds(control_plane, REPO / "crds")
    with control_plane.api_client() as api_client:
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
