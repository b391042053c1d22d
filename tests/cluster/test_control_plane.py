"""The control plane of the cluster tier is a real one: the pinned version, the repo's CRDs, RBAC
and the controllers (namespace, garbage collector, job, service account) all do their work."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.conftest import REPO
from tests.helpers import eventually
from tests.support.controlplane import ControlPlane

pytestmark = pytest.mark.integration


def status_of(call: Callable[[], Any]) -> int:
    """The HTTP status of an API call: 200 when it succeeds."""
    try:
        call()
    except ApiException as exc:
        return int(exc.status)
    return 200


@pytest.fixture(scope="module")
def api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api_client:
        yield api_client


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    """A fresh namespace with its default ServiceAccount in place; deleted afterwards."""
    core = client.CoreV1Api(api)
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    eventually(
        "the namespace's default ServiceAccount",
        lambda: status_of(lambda: core.read_namespaced_service_account("default", name)) == 200,
    )
    yield name
    core.delete_namespace(name)


def test_version_is_the_pinned_one(control_plane: ControlPlane, api: client.ApiClient) -> None:
    pinned = control_plane.versions["KUBE_VERSION"]
    info = client.VersionApi(api).get_code()
    assert info.git_version == pinned
    assert (info.major, info.minor) == ("1", pinned.split(".")[1])
    assert control_plane.get("/version").json()["gitVersion"] == pinned


def test_the_repo_crds_apply_and_become_established(api: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(api)
    crds = [doc for path in sorted((REPO / "crds").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())]
    assert crds
    for crd in crds:
        if status_of(partial(extensions.create_custom_resource_definition, crd)) == 409:
            current = extensions.read_custom_resource_definition(crd["metadata"]["name"])
            crd["metadata"]["resourceVersion"] = current.metadata.resource_version
            extensions.replace_custom_resource_definition(crd["metadata"]["name"], crd)

    def established(name: str) -> bool:
        conditions = extensions.read_custom_resource_definition(name).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    custom = client.CustomObjectsApi(api)
    for crd in crds:
        name = crd["metadata"]["name"]
        eventually(f"{name} Established", partial(established, name), timeout=30)
        spec = crd["spec"]
        served = next(v["name"] for v in spec["versions"] if v["served"])
        listing = custom.list_namespaced_custom_object(spec["group"], served, "default", spec["names"]["plural"])
        assert listing["kind"].endswith("List")


def service_account_client(control_plane: ControlPlane, api: client.ApiClient, namespace: str, name: str) -> Any:
    """An API client that authenticates as a ServiceAccount, with a token from the TokenRequest API."""
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name)))
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600))
    token = core.create_namespaced_service_account_token(name, namespace, request).status.token
    config = client.Configuration(host=control_plane.server)
    config.ssl_ca_cert = str(control_plane.ca)
    config.api_key = {"BearerToken": token}
    config.api_key_prefix = {"BearerToken": "Bearer"}
    return client.ApiClient(config)


def test_rbac_denies_a_service_account_without_a_role_and_allows_it_with_one(
    control_plane: ControlPlane, api: client.ApiClient, namespace: str
) -> None:
    with service_account_client(control_plane, api, namespace, "reader") as as_reader:
        core = client.CoreV1Api(as_reader)

        def may_list_configmaps() -> bool:
            review = client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(
                        namespace=namespace, verb="list", resource="configmaps"
                    )
                )
            )
            return bool(client.AuthorizationV1Api(as_reader).create_self_subject_access_review(review).status.allowed)

        me = client.AuthenticationV1Api(as_reader).create_self_subject_review(client.V1SelfSubjectReview())
        assert me.status.user_info.username == f"system:serviceaccount:{namespace}:reader"
        assert status_of(lambda: core.list_namespaced_config_map(namespace)) == 403
        assert not may_list_configmaps()

        rbac = client.RbacAuthorizationV1Api(api)
        rbac.create_namespaced_role(
            namespace,
            client.V1Role(
                metadata=client.V1ObjectMeta(name="configmap-reader"),
                rules=[client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get", "list"])],
            ),
        )
        rbac.create_namespaced_role_binding(
            namespace,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name="reader"),
                role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="configmap-reader"),
                subjects=[client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=namespace)],
            ),
        )
        eventually(
            "the Role takes effect", lambda: status_of(lambda: core.list_namespaced_config_map(namespace)) == 200
        )
        assert may_list_configmaps()
        # The Role grants reading configmaps in its namespace, nothing more.
        assert status_of(lambda: core.list_namespaced_config_map("default")) == 403
        assert status_of(lambda: core.list_namespaced_secret(namespace)) == 403


def test_a_namespace_deletion_completes(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = f"gone-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="content")))
    core.delete_namespace(name)
    assert core.read_namespace(name).status.phase == "Terminating"
    eventually("the namespace is gone", lambda: status_of(lambda: core.read_namespace(name)) == 404)


def test_the_garbage_collector_deletes_what_a_deleted_owner_owned(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner")))
    reference = client.V1OwnerReference(api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid)
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owned", owner_references=[reference]))
    )
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="bystander")))
    core.delete_namespaced_config_map("owner", namespace)
    eventually(
        "the owned ConfigMap is collected",
        lambda: status_of(lambda: core.read_namespaced_config_map("owned", namespace)) == 404,
    )
    assert status_of(lambda: core.read_namespaced_config_map("bystander", namespace)) == 200


def test_a_job_creates_a_pod_that_stays_pending_without_a_kubelet(api: client.ApiClient, namespace: str) -> None:
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name="hello"),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[client.V1Container(name="hello", image="busybox:1.36", command=["true"])],
                )
            ),
        ),
    )
    client.BatchV1Api(api).create_namespaced_job(namespace, job)
    core = client.CoreV1Api(api)
    pods = eventually(
        "the Job's Pod",
        lambda: core.list_namespaced_pod(namespace, label_selector="job-name=hello").items,
    )
    assert len(pods) == 1
    pod = pods[0]
    assert pod.metadata.owner_references[0].kind == "Job"
    assert pod.status.phase == "Pending"
    assert pod.spec.node_name is None
    assert pod.spec.service_account_name == "default"
