"""The Kubernetes API emulator is strict where real API servers are strict.

Each test states one rule a real server enforces and that the operator tier relies
on; each would fail against a lax emulator: metadata (uid, resourceVersion,
generation on spec changes only, generateName, 201), status-subresource isolation,
optimistic concurrency and JSON-patch tests, schema validation and silent pruning
(or a Strict refusal), finalizers, selectors, watches from a resourceVersion and
410 Gone, strategic merge refused for custom resources; plus compatibility with the
official kubernetes client and server-side printing for kubectl.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.conftest import REPO
from tests.operator.conftest import EMULATOR_ONLY
from tests.support.kubeapi import CRD_PATH, ApiStatus, KubeAPI

pytestmark = [pytest.mark.integration, EMULATOR_ONLY]
KUBECTL = REPO / ".tools" / "bin" / "kubectl"


def file_obj(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "clockwork.dev/v1alpha1",
        "kind": "File",
        "metadata": {"name": name},
        "spec": {"path": f"/srv/{name}", "content": "x", **spec},
    }


def test_create_sets_metadata_and_answers_201(kube: KubeAPI) -> None:
    response = requests.post(kube.url + kube.path("files"), json=file_obj("a"), timeout=10)
    assert response.status_code == 201
    meta = response.json()["metadata"]
    assert meta["uid"]
    assert meta["generation"] == 1
    assert meta["resourceVersion"].isdigit()
    assert meta["creationTimestamp"].endswith("Z")
    generated = kube.create("files", {**file_obj("ignored"), "metadata": {"generateName": "gen-"}})
    assert generated["metadata"]["name"].startswith("gen-")
    with pytest.raises(ApiStatus) as conflict:
        kube.create("files", file_obj("a"))
    assert conflict.value.code == 409


def test_generation_moves_with_spec_only(kube: KubeAPI) -> None:
    kube.create("files", file_obj("g"))
    kube.patch("files", "g", {"metadata": {"labels": {"team": "edge"}}})
    kube.patch("files", "g", {"status": {"target": "local"}}, sub="status")
    assert kube.get("files", "g")["metadata"]["generation"] == 1
    kube.patch("files", "g", {"spec": {"content": "y"}})
    assert kube.get("files", "g")["metadata"]["generation"] == 2


def test_status_subresource_is_isolated_both_ways(kube: KubeAPI) -> None:
    kube.create("files", {**file_obj("s"), "status": {"target": "ignored on create"}})
    assert "status" not in kube.get("files", "s")
    kube.patch("files", "s", {"spec": {"content": "via status"}, "status": {"target": "t"}}, sub="status")
    obj = kube.get("files", "s")
    assert obj["spec"]["content"] == "x"
    assert obj["status"] == {"target": "t"}
    kube.patch("files", "s", {"status": {"target": "via main"}})
    assert kube.get("files", "s")["status"] == {"target": "t"}


def test_stale_resource_version_conflicts_and_failed_tests_are_422(kube: KubeAPI) -> None:
    created = kube.create("files", file_obj("c"))
    kube.patch("files", "c", {"spec": {"content": "new"}})
    stale = {**created, "spec": {**created["spec"], "content": "lost update"}}
    with pytest.raises(ApiStatus) as conflict:
        kube.request("PUT", kube.path("files", "default", "c"), stale)
    assert conflict.value.code == 409
    with pytest.raises(ApiStatus) as failed:
        kube.request(
            "PATCH",
            kube.path("files", "default", "c"),
            [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"}],
            "application/json-patch+json",
        )
    assert failed.value.code == 422


def test_schema_validation_names_the_field(kube: KubeAPI) -> None:
    with pytest.raises(ApiStatus) as invalid:
        kube.create("files", file_obj("bad", mode="999"))
    assert invalid.value.code == 422
    assert "spec.mode" in invalid.value.body["message"]
    assert invalid.value.body["details"]["causes"][0]["field"] == "spec.mode"


def test_unknown_fields_are_pruned_or_refused_when_strict(kube: KubeAPI) -> None:
    kube.create("files", file_obj("p", colour="red"))
    assert "colour" not in kube.get("files", "p")["spec"]
    kube.patch("files", "p", {"status": {"target": "t", "undeclared": {"x": 1}}}, sub="status")
    assert kube.get("files", "p")["status"] == {"target": "t"}
    with pytest.raises(ApiStatus) as strict:
        kube.request("POST", kube.path("files") + "?fieldValidation=Strict", file_obj("q", colour="red"))
    assert strict.value.code == 422
    assert 'unknown field "spec.colour"' in strict.value.body["message"]


def test_apiversion_and_kind_survive_a_schema_that_does_not_declare_them(kube: KubeAPI) -> None:
    # kopf's ClusterKopfPeering CRD declares status only; a real server keeps apiVersion and kind
    crd = yaml.safe_load((REPO / "charts" / "clockwork" / "crds" / "kopf.dev_clusterkopfpeerings.yaml").read_text())
    kube.request("POST", CRD_PATH, crd)
    path = "/apis/kopf.dev/v1/clusterkopfpeerings"
    kube.request("POST", path, {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": "p"},
                                "spec": {"dropped": True}})  # fmt: skip
    stored = kube.request("GET", f"{path}/p")
    assert (stored["apiVersion"], stored["kind"]) == ("kopf.dev/v1", "ClusterKopfPeering")
    assert "spec" not in stored  # what the schema does not declare is still pruned


def test_strategic_merge_is_refused_for_custom_resources(kube: KubeAPI) -> None:
    kube.create("files", file_obj("m"))
    with pytest.raises(ApiStatus) as refused:
        kube.request(
            "PATCH",
            kube.path("files", "default", "m"),
            {"spec": {"content": "y"}},
            "application/strategic-merge-patch+json",
        )
    assert refused.value.code == 415


def test_finalizers_hold_deletion(kube: KubeAPI) -> None:
    kube.create("files", {**file_obj("f"), "metadata": {"name": "f", "finalizers": ["test/hold"]}})
    kube.delete("files", "f")
    held = kube.get("files", "f")
    assert held["metadata"]["deletionTimestamp"]
    assert held["metadata"]["generation"] == 2  # kube-apiserver counts the start of a deletion
    kube.patch("files", "f", {"metadata": {"finalizers": []}})
    assert kube.find("files", "f") is None


def test_an_event_is_about_an_object_in_its_own_namespace(kube: KubeAPI) -> None:
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "f.", "namespace": "default"},
             "involvedObject": {"kind": "File", "name": "f", "namespace": "elsewhere"},
             "reason": "R", "message": "m"}  # fmt: skip
    with pytest.raises(ApiStatus) as refused:
        kube.create("events", event, group="", version="v1")
    assert refused.value.code == 422
    assert "does not match event.namespace" in refused.value.body["message"]


def test_namespaces_must_exist(kube: KubeAPI) -> None:
    obj = {**file_obj("n"), "metadata": {"name": "n", "namespace": "nowhere"}}
    with pytest.raises(ApiStatus) as missing:
        kube.create("files", obj)
    assert missing.value.code == 404


def test_label_and_field_selectors(kube: KubeAPI) -> None:
    for name, site in (("b1", "berlin"), ("b2", "berlin"), ("p1", "paris")):
        kube.create("files", {**file_obj(name), "metadata": {"name": name, "labels": {"site": site}}})

    def names(query: str) -> list[str]:
        items = kube.request("GET", kube.path("files") + query)["items"]
        return [i["metadata"]["name"] for i in items]

    assert names("?labelSelector=site%3Dberlin") == ["b1", "b2"]
    assert names("?labelSelector=site+in+(paris,rome)") == ["p1"]
    assert names("?labelSelector=site!%3Dberlin") == ["p1"]
    assert names("?fieldSelector=metadata.name%3Db2") == ["b2"]


def test_watch_from_a_resource_version_and_gone_when_too_old(kube: KubeAPI) -> None:
    kube.create("files", file_obj("w1"))
    rv = kube.request("GET", kube.path("files"))["metadata"]["resourceVersion"]
    kube.patch("files", "w1", {"spec": {"content": "changed"}})
    kube.create("files", file_obj("w2"))
    response = requests.get(
        kube.url + kube.path("files") + f"?watch=true&resourceVersion={rv}&timeoutSeconds=1",
        stream=True,
        timeout=10,
    )
    events = [json.loads(line) for line in response.iter_lines() if line]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "w1"),
        ("ADDED", "w2"),
    ]
    kube.emulator.history.clear()
    gone = requests.get(
        kube.url + kube.path("files") + "?watch=true&resourceVersion=2&timeoutSeconds=1",
        stream=True,
        timeout=10,
    )
    [error] = [json.loads(line) for line in gone.iter_lines() if line]
    assert error["type"] == "ERROR"
    assert error["object"]["code"] == 410


def test_official_kubernetes_client_works_against_it(kube: KubeAPI) -> None:
    result: dict[str, Any] = {}

    def use_client() -> None:  # never on the emulator's loop: the sync client blocks
        from kubernetes import client, config

        api = client.CustomObjectsApi(config.new_client_from_config(str(kube.kubeconfig)))
        created = api.create_namespaced_custom_object("clockwork.dev", "v1alpha1", "default", "files", file_obj("k"))
        result["created"] = created["metadata"]["uid"]
        api.patch_namespaced_custom_object_status(
            "clockwork.dev", "v1alpha1", "default", "files", "k", {"status": {"target": "from-client"}}
        )
        listed = api.list_namespaced_custom_object("clockwork.dev", "v1alpha1", "default", "files")
        result["names"] = [i["metadata"]["name"] for i in listed["items"]]
        api.delete_namespaced_custom_object("clockwork.dev", "v1alpha1", "default", "files", "k")
        api.api_client.close()

    thread = threading.Thread(target=use_client)
    thread.start()
    thread.join(30)
    assert result["created"]
    assert result["names"] == ["k"]
    assert kube.find("files", "k") is None


def test_crds_are_established_and_discoverable(kube: KubeAPI) -> None:
    crd = kube.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/files.clockwork.dev")
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
    resources = kube.request("GET", "/apis/clockwork.dev/v1alpha1")["resources"]
    files = next(r for r in resources if r["name"] == "files")
    assert files["categories"] == ["clockwork"]
    assert "cwfile" in files["shortNames"]
    assert any(r["name"] == "files/status" for r in resources)


@pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl not installed: run scripts/install-k8s-tools.sh")
def test_kubectl_get_shows_printer_columns(kube: KubeAPI, tmp_path: Path) -> None:
    kube.create("files", file_obj("shown"))
    kube.patch(
        "files",
        "shown",
        {
            "status": {
                "target": "local",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "Ready",
                        "message": "",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    },
                    {
                        "type": "Healthy",
                        "status": "True",
                        "reason": "AssertionsPassed",
                        "message": "",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    },
                ],
            }
        },
        sub="status",
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        proc = subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(kube.kubeconfig), "get", "clockwork"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, proc.stderr
    header, row = proc.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "HEALTHY", "TARGET", "AGE"]
    name, *cells = row.split()
    assert name.split("/")[-1] == "shown"  # kubectl prefixes the kind when the category spans several
    assert cells[:3] == ["True", "True", "local"]
