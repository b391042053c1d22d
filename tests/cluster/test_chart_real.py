"""The chart and the manifests against the real control plane (tests/support/controlplane.py).

`helm install` / `upgrade` / `uninstall` of charts/clockwork with the default values and with
every feature on (ci-all-features.yaml; the Prometheus Operator's kinds come from minimal CRDs in
tests/cluster/crds/), `kubectl apply -f manifests/install.yaml`, every example through
`kubectl apply --server-side --validate=strict`, the CRDs' printer columns in `kubectl get` and
their descriptions in `kubectl explain`, and RBAC proven by the API server's own authorizer:
`kubectl auth can-i` with a token of the chart's ServiceAccount (TokenRequest API) and with
tokens of ServiceAccounts bound to the built-in view and edit roles the chart aggregates into.

There is no kubelet: nothing runs, so no `--wait`; what is checked is what the server stored.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from clockwork.api.registry import ALL_KINDS
from tests.conftest import REPO
from tests.helpers import eventually
from tests.support.controlplane import ControlPlane
from tests.support.realkube import k8s_tools, write_token_kubeconfig

pytestmark = pytest.mark.integration

CHART = REPO / "charts" / "clockwork"
ALL_FEATURES = CHART / "ci-all-features.yaml"
INSTALL = REPO / "manifests" / "install.yaml"
EXAMPLES = REPO / "manifests" / "examples"
MONITORING_CRDS = Path(__file__).parent / "crds" / "monitoring.coreos.com.yaml"
GROUP = "clockwork.dev"


@dataclass
class Tools:
    """kubectl and helm against the control plane, helm's state in a scratch folder."""

    bin: Path
    kubeconfig: Path
    env: dict[str, str]

    def run(
        self, tool: str, *args: str, kubeconfig: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "KUBECONFIG": str(kubeconfig or self.kubeconfig)}
        return subprocess.run([str(self.bin / tool), *args], capture_output=True, text=True, env=env, timeout=timeout)

    def ok(self, tool: str, *args: str, kubeconfig: Path | None = None) -> str:
        proc = self.run(tool, *args, kubeconfig=kubeconfig)
        assert proc.returncode == 0, f"{tool} {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        # the server's warnings (unknown or duplicate fields, deprecated APIs) reach stderr; not
        # one: kubectl's own about applying over what another test (or helm) created first
        warnings = [
            line
            for line in proc.stderr.splitlines()
            if "warning" in line.lower() and "last-applied-configuration annotation" not in line
        ]
        assert not warnings, f"{tool} {' '.join(args)}:\n{proc.stderr}"
        return proc.stdout

    def kubectl(self, *args: str, kubeconfig: Path | None = None) -> str:
        return self.ok("kubectl", *args, kubeconfig=kubeconfig)

    def helm(self, *args: str) -> str:
        return self.ok("helm", *args)

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def exists(self, *args: str) -> bool:
        proc = self.run("kubectl", "get", *args, "--ignore-not-found", "-o", "name")
        assert proc.returncode == 0, proc.stderr
        return bool(proc.stdout.strip())

    def gone(self, *args: str) -> bool:
        return not self.exists(*args)

    def can_i(self, kubeconfig: Path, verb: str, resource: str, namespace: str) -> bool:
        """`kubectl auth can-i` (a SelfSubjectAccessReview): exit 0 yes, 1 no, anything else an error."""
        resource, _, subresource = resource.partition("/")  # kubectl reads "pods/log" as the pod named log
        extra = [f"--subresource={subresource}"] if subresource else []
        proc = self.run("kubectl", "auth", "can-i", verb, resource, *extra, "-n", namespace, kubeconfig=kubeconfig)
        assert proc.returncode in (0, 1), proc.stderr
        return proc.returncode == 0


@pytest.fixture(scope="module")
def tools(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Tools:
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    return Tools(k8s_tools(), control_plane.kubeconfig, env)


@pytest.fixture(scope="module")
def monitoring_crds(tools: Tools) -> None:
    tools.kubectl("apply", "--server-side", "-f", str(MONITORING_CRDS))
    tools.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(MONITORING_CRDS))


@pytest.fixture(scope="module")
def clockwork_crds(tools: Tools) -> list[dict[str, Any]]:
    """The repo's CRDs on the server (another test or helm may have made them already), Established."""
    tools.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    tools.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds"))
    return [yaml.safe_load(p.read_text()) for p in sorted((REPO / "crds").glob("*.yaml"))]


@pytest.fixture
def namespace(tools: Tools) -> Iterator[str]:
    name = f"chart-{uuid.uuid4().hex[:8]}"
    tools.kubectl("create", "namespace", name)
    yield name
    tools.kubectl("delete", "namespace", name, "--wait=false")


def release_name() -> str:
    return f"cw{uuid.uuid4().hex[:6]}"


def manifest(tools: Tools, release: str, namespace: str) -> list[dict[str, Any]]:
    """What helm says it installed in the release's current revision."""
    docs = yaml.safe_load_all(tools.helm("get", "manifest", release, "-n", namespace))
    return [d for d in docs if d]


def ref(doc: dict[str, Any], namespace: str) -> list[str]:
    """`kubectl get` arguments for a rendered object."""
    kind = doc["kind"].lower()
    group = doc["apiVersion"].rpartition("/")[0]
    resource = f"{kind}.{group}" if group else kind
    args = [f"{resource}/{doc['metadata']['name']}"]
    if doc["kind"] not in {"ClusterRole", "ClusterRoleBinding", "Namespace", "CustomResourceDefinition"}:
        args += ["-n", doc["metadata"].get("namespace", namespace)]
    return args


def assert_crds_established(tools: Tools) -> None:
    crds = tools.get("crd")["items"]
    ours = {c["metadata"]["name"]: c for c in crds if c["spec"]["group"] in (GROUP, "kopf.dev")}
    # ours, and kopf's peering kind the chart ships (crds/kopf.dev_clusterkopfpeerings.yaml)
    assert set(ours) == {f"{info.plural}.{GROUP}" for info in ALL_KINDS.values()} | {"clusterkopfpeerings.kopf.dev"}
    for name, crd in ours.items():
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", (name, conditions)
        assert conditions.get("NamesAccepted") == "True", (name, conditions)
        assert conditions.get("NonStructuralSchema") is None, (name, crd["status"]["conditions"])


def token_kubeconfig(tools: Tools, control_plane: ControlPlane, folder: Path, namespace: str, account: str) -> Path:
    """A kubeconfig that authenticates as ``account`` with a token from the TokenRequest API."""
    token = tools.kubectl("create", "token", account, "-n", namespace, "--duration=10m").strip()
    assert token.count(".") == 2, "a JWT"
    path = write_token_kubeconfig(folder / f"{account}.kubeconfig", control_plane, account, token, namespace)
    who = json.loads(tools.kubectl("auth", "whoami", "-o", "json", kubeconfig=path))
    assert who["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:{account}"
    return path


# --- helm -------------------------------------------------------------------------------------


@pytest.mark.parametrize("all_features", [False, True], ids=["defaults", "all-features"])
def test_helm_install_upgrade_uninstall(
    tools: Tools, namespace: str, all_features: bool, request: pytest.FixtureRequest
) -> None:
    values = ["-f", str(ALL_FEATURES)] if all_features else []
    if all_features:
        request.getfixturevalue("monitoring_crds")
    release = release_name()
    tools.helm("install", release, str(CHART), "-n", namespace, *values)
    assert_crds_established(tools)

    installed = manifest(tools, release, namespace)
    kinds = sorted(d["kind"] for d in installed)
    expected = ["ClusterRole"] * 3 + ["ClusterRoleBinding", "Deployment", "Service", "ServiceAccount"]
    if all_features:
        expected += ["ConfigMap"] * 4 + ["NetworkPolicy", "PrometheusRule", "ServiceMonitor"]
    assert kinds == sorted(expected)
    for doc in installed:
        live = tools.get(*ref(doc, namespace))
        assert live["metadata"]["labels"]["app.kubernetes.io/instance"] == release, doc["metadata"]["name"]
        if doc["kind"] in {"ClusterRole", "ClusterRoleBinding"}:
            # the server keeps RBAC objects as given (no rule rewritten or dropped)
            for key in ("rules", "roleRef", "subjects"):
                assert live.get(key) == doc.get(key), (doc["metadata"]["name"], key)

    by_kind = {d["kind"]: d for d in installed}
    fullname = by_kind["Deployment"]["metadata"]["name"]
    deployment = tools.get("deployment", fullname, "-n", namespace)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == by_kind["ServiceAccount"]["metadata"]["name"]
    args = pod["containers"][0]["args"]
    assert ("--namespace=edge" in args) is all_features
    # peering at every replica count (ci-all-features: 2 replicas)
    assert deployment["spec"]["replicas"] == (2 if all_features else 1)
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["CW_PEERING"] == f"{namespace}.{fullname}"
    binding = tools.get("clusterrolebinding", fullname)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": namespace}
    ]

    # upgrade: a changed value reaches the Deployment; a feature turned off is deleted from the server
    upgrade = ["--set", "resources.requests.cpu=100m", "--set", "logLevel=debug", "--set", "replicaCount=3"]
    if all_features:
        upgrade += ["--set", "serviceMonitor.enabled=false"]
    tools.helm("upgrade", release, str(CHART), "-n", namespace, *values, *upgrade)
    status = json.loads(tools.helm("status", release, "-n", namespace, "-o", "json"))
    assert (status["version"], status["info"]["status"]) == (2, "deployed")
    deployment = tools.get("deployment", fullname, "-n", namespace)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "100m"
    assert "--log-level=DEBUG" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert deployment["metadata"]["generation"] == 2 and deployment["spec"]["replicas"] == 3
    if all_features:
        monitor = by_kind["ServiceMonitor"]
        eventually("the ServiceMonitor deleted by the upgrade", partial(tools.gone, *ref(monitor, namespace)))
        assert tools.exists(*ref(by_kind["PrometheusRule"], namespace))

    tools.helm("uninstall", release, "-n", namespace, "--wait", "--timeout", "60s")
    for doc in installed:
        args = ref(doc, namespace)
        eventually(f"{args} gone after helm uninstall", partial(tools.gone, *args))
    # helm never deletes what it installed from crds/: the resources people made survive
    assert_crds_established(tools)


# --- manifests/install.yaml -------------------------------------------------------------------


def test_install_manifest_applies(tools: Tools, tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(INSTALL.read_text()) if d]
    applied = tools.kubectl("apply", "-f", str(INSTALL))
    try:
        assert len(applied.strip().splitlines()) == len(docs), applied
        for doc in docs:
            assert tools.exists(*ref(doc, "clockwork-system")), doc["metadata"]["name"]
        assert_crds_established(tools)
        # what the server stored is what the file says: a second apply changes nothing
        again = tools.kubectl("apply", "-f", str(INSTALL))
        changed = [line for line in again.splitlines() if not line.endswith(" unchanged")]
        assert not changed, again
        assert tools.run("kubectl", "diff", "-f", str(INSTALL)).returncode == 0
    finally:
        # everything but the CRDs: the other tests of the session use them
        rest = tmp_path / "without-crds.yaml"
        rest.write_text(yaml.safe_dump_all([d for d in docs if d["kind"] != "CustomResourceDefinition"]))
        tools.kubectl("delete", "-f", str(rest), "--ignore-not-found", "--wait=false")


# --- the examples, printer columns, explain ---------------------------------------------------


def examples_into(namespace: str, folder: Path) -> dict[str, int]:
    """Copies of the examples with their namespace set to ``namespace``; how many of each kind."""
    counts: dict[str, int] = {}
    for path in sorted(EXAMPLES.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        for doc in docs:
            doc["metadata"]["namespace"] = namespace
            counts[doc["kind"]] = counts.get(doc["kind"], 0) + 1
        (folder / path.name).write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return counts


def test_examples_apply_server_side_strict(
    tools: Tools, clockwork_crds: list[dict[str, Any]], namespace: str, tmp_path: Path
) -> None:
    counts = examples_into(namespace, tmp_path)
    out = tools.kubectl("apply", "--server-side", "--validate=strict", "-n", namespace, "-f", str(tmp_path))
    assert len(out.strip().splitlines()) == sum(counts.values()), out
    assert "Warning" not in out

    # strict is strict: a field the schema does not know is refused by the server
    bad = yaml.safe_load((EXAMPLES / "file.yaml").read_text())
    bad["metadata"]["namespace"] = namespace
    bad["metadata"]["name"] = "unknown-field"
    bad["spec"]["bogusField"] = 1
    bad_path = tmp_path / "bad" / "bad.yaml"
    bad_path.parent.mkdir()
    bad_path.write_text(yaml.safe_dump(bad))
    refused = tools.run("kubectl", "apply", "--server-side", "--validate=strict", "-f", str(bad_path))
    assert refused.returncode != 0
    # server-side apply refuses it while building the typed patch (client-side apply would say "unknown field")
    assert ".spec.bogusField: field not declared in schema" in refused.stderr, refused.stderr

    by_kind = {crd["spec"]["names"]["kind"]: crd for crd in clockwork_crds}
    for kind, count in counts.items():
        crd = by_kind[kind]
        plural = crd["spec"]["names"]["plural"]
        (version,) = crd["spec"]["versions"]
        columns = version.get("additionalPrinterColumns", [])
        assert columns, f"{kind} declares no printer columns"
        for wide, shown in ((False, [c for c in columns if not c.get("priority")]), (True, columns)):
            table = tools.kubectl("get", plural, "-n", namespace, *(["-o", "wide"] if wide else []))
            header, *rows = table.strip().splitlines()
            assert re.split(r"\s{2,}", header.strip()) == ["NAME", *[c["name"].upper() for c in shown]], (kind, header)
            assert len(rows) == count, table
        for short in crd["spec"]["names"].get("shortNames", []):
            names = tools.kubectl("get", short, "-n", namespace, "-o", "name").split()
            assert len(names) == count, (short, names)
    # the category: `kubectl get clockwork` lists every example, whatever its kind
    categorized = tools.kubectl("get", "clockwork", "-n", namespace, "-o", "name").split()
    assert len(categorized) == sum(counts.values()), categorized


def words(text: str) -> str:
    return " ".join(text.split())


def object_nodes(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object with properties under ``schema``, by its `kubectl explain` path (arrays are transparent)."""
    if "items" in schema:
        yield from object_nodes(schema["items"], path)
        return
    if schema.get("properties"):
        yield path, schema
        for name, prop in schema["properties"].items():
            yield from object_nodes(prop, f"{path}.{name}")


def test_explain_shows_the_field_descriptions(tools: Tools, clockwork_crds: list[dict[str, Any]]) -> None:
    for crd in clockwork_crds:
        plural = crd["spec"]["names"]["plural"]
        spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        assert spec.get("description"), f"{plural}.spec has no description"
        for path, node in object_nodes(spec, f"{plural}.spec"):
            shown = words(tools.kubectl("explain", path))
            if node is spec:
                assert words(spec["description"])[:60] in shown, plural
            for field, prop in node["properties"].items():
                assert prop.get("description"), f"{path}.{field} has no description"
                assert field in shown, (path, field)
                assert words(prop["description"])[:40] in shown, (path, field, prop["description"])
    path = crd_field(clockwork_crds, "File", "path")
    out = words(tools.kubectl("explain", "files.spec.path"))
    assert f"FIELD: path <{path['type']}>" in out and words(path["description"]) in out, out


def crd_field(crds: list[dict[str, Any]], kind: str, field: str) -> dict[str, Any]:
    crd = next(c for c in crds if c["spec"]["names"]["kind"] == kind)
    prop: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        field
    ]
    return prop


# --- RBAC, by the server's authorizer ---------------------------------------------------------

PLURALS = sorted(info.plural for info in ALL_KINDS.values())
OPERATOR_MAY = [
    *[(verb, f"{p}.{GROUP}") for p in PLURALS for verb in ("get", "list", "watch", "patch")],
    *[(verb, f"{p}.{GROUP}/status") for p in PLURALS for verb in ("get", "patch")],
    ("create", f"tasks.{GROUP}"),
    ("delete", f"tasks.{GROUP}"),
    ("create", "events"),
    ("patch", "events"),
    ("create", "events.events.k8s.io"),
    ("get", "secrets"),
    ("create", "configmaps"),
    ("get", "configmaps"),
    ("delete", "configmaps"),
    ("create", "jobs.batch"),
    ("get", "jobs.batch"),
    ("delete", "jobs.batch"),
    ("list", "pods"),
    ("get", "pods/log"),
    ("list", "namespaces"),
    ("watch", "namespaces"),
    ("list", "customresourcedefinitions.apiextensions.k8s.io"),
    ("update", f"workflows.{GROUP}/finalizers"),
    # peering (CW_PEERING): the replicas' ClusterKopfPeering, made by the operator when missing
    *[(verb, "clusterkopfpeerings.kopf.dev") for verb in ("get", "list", "watch", "patch", "create")],
]
OPERATOR_MAY_NOT = [
    ("list", "secrets"),
    ("delete", "secrets"),
    ("create", "secrets"),
    ("create", "clusterroles.rbac.authorization.k8s.io"),
    ("create", "rolebindings.rbac.authorization.k8s.io"),
    ("create", f"files.{GROUP}"),
    ("delete", f"workflows.{GROUP}"),
    ("update", f"files.{GROUP}"),
    ("create", "pods"),
    ("create", "pods/exec"),
    ("delete", "namespaces"),
    ("patch", "deployments.apps"),
    ("create", "customresourcedefinitions.apiextensions.k8s.io"),
    ("update", f"files.{GROUP}/finalizers"),
    ("update", f"workflows.{GROUP}"),
    ("delete", "clusterkopfpeerings.kopf.dev"),
    ("patch", "kopfpeerings.kopf.dev"),  # namespaced peering: not used
]


def test_rbac_of_the_operator_service_account(
    tools: Tools, control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    release = release_name()
    tools.helm("install", release, str(CHART), "-n", namespace)
    account = next(d for d in manifest(tools, release, namespace) if d["kind"] == "ServiceAccount")["metadata"]["name"]
    kubeconfig = token_kubeconfig(tools, control_plane, tmp_path, namespace, account)
    try:
        refused = [(v, r) for v, r in OPERATOR_MAY if not tools.can_i(kubeconfig, v, r, namespace)]
        assert not refused, f"the operator is refused what it needs: {refused}"
        granted = [(v, r) for v, r in OPERATOR_MAY_NOT if tools.can_i(kubeconfig, v, r, namespace)]
        assert not granted, f"the operator may do more than it needs: {granted}"
        # a ClusterRoleBinding: the same in any other namespace (a sample)
        assert tools.can_i(kubeconfig, "patch", f"files.{GROUP}/status", "default")
        assert tools.can_i(kubeconfig, "create", "jobs.batch", "default")
        assert not tools.can_i(kubeconfig, "delete", "secrets", "default")
        # and for real, not only a review: a read the role grants works, a delete it does not is Forbidden
        tools.kubectl("get", "files", "-n", namespace, kubeconfig=kubeconfig)
        denied = tools.run("kubectl", "delete", "secret", "anything", "-n", namespace, kubeconfig=kubeconfig)
        assert denied.returncode != 0 and "Forbidden" in denied.stderr, denied.stderr
    finally:
        tools.helm("uninstall", release, "-n", namespace)


def test_rbac_viewer_and_editor_aggregate_into_view_and_edit(
    tools: Tools, control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    release = release_name()
    tools.helm("install", release, str(CHART), "-n", namespace)
    try:
        people = {}
        for account, role in (("alice-viewer", "view"), ("bob-editor", "edit")):
            tools.kubectl("create", "serviceaccount", account, "-n", namespace)
            tools.kubectl(
                "create",
                "rolebinding",
                account,
                f"--clusterrole={role}",
                f"--serviceaccount={namespace}:{account}",
                "-n",
                namespace,
            )
            people[role] = token_kubeconfig(tools, control_plane, tmp_path, namespace, account)
        viewer, editor = people["view"], people["edit"]
        # the controller manager aggregates the chart's roles into the built-in ones
        eventually(
            "clockwork-viewer aggregated into view", lambda: tools.can_i(viewer, "list", f"files.{GROUP}", namespace)
        )
        eventually(
            "clockwork-editor aggregated into edit", lambda: tools.can_i(editor, "create", f"files.{GROUP}", namespace)
        )
        for plural in PLURALS:
            resource = f"{plural}.{GROUP}"
            # every verb for two kinds; one read and one write for the rest (each check is a round trip)
            full = plural in {"files", "workflows"}
            for verb in ("get", "list", "watch") if full else ("list",):
                assert tools.can_i(viewer, verb, resource, namespace), (verb, resource)
                assert tools.can_i(editor, verb, resource, namespace), (verb, resource)
            for verb in ("create", "update", "patch", "delete", "deletecollection") if full else ("create",):
                assert not tools.can_i(viewer, verb, resource, namespace), (verb, resource)
                assert tools.can_i(editor, verb, resource, namespace), (verb, resource)
            # status is the operator's to write, not people's
            assert not tools.can_i(viewer, "patch", f"{resource}/status", namespace), resource
            assert not tools.can_i(editor, "patch", f"{resource}/status", namespace), resource
        # a RoleBinding grants in its namespace only
        assert not tools.can_i(viewer, "list", f"files.{GROUP}", "default")
        assert not tools.can_i(editor, "create", f"files.{GROUP}", "default")
    finally:
        tools.helm("uninstall", release, "-n", namespace)


def test_rbac_operator_may_create_a_workflows_tasks(
    tools: Tools, control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    """A Workflow's Tasks, created with the operator's token as the driver makes them: owned by the
    Workflow with blockOwnerDeletion, which the OwnerReferencesPermissionEnforcement admission
    plugin (on in the test control plane) allows only with update on workflows/finalizers."""
    release = release_name()
    tools.helm("install", release, str(CHART), "-n", namespace)
    account = next(d for d in manifest(tools, release, namespace) if d["kind"] == "ServiceAccount")["metadata"]["name"]
    kubeconfig = token_kubeconfig(tools, control_plane, tmp_path, namespace, account)
    try:
        workflow = yaml.safe_load((EXAMPLES / "workflow.yaml").read_text())
        workflow["metadata"]["namespace"] = namespace
        (tmp_path / "workflow.yaml").write_text(yaml.safe_dump(workflow))
        tools.kubectl("create", "-f", str(tmp_path / "workflow.yaml"))
        uid = tools.get("workflow", workflow["metadata"]["name"], "-n", namespace)["metadata"]["uid"]
        step = workflow["spec"]["steps"][0]
        task = {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "Task",
            "metadata": {
                "name": f"{workflow['metadata']['name']}-{step['name']}",
                "namespace": namespace,
                "ownerReferences": [
                    {"apiVersion": f"{GROUP}/v1alpha1", "kind": "Workflow", "name": workflow["metadata"]["name"],
                     "uid": uid, "controller": True, "blockOwnerDeletion": True}
                ],
            },
            "spec": step["task"],
        }  # fmt: skip
        (tmp_path / "task.yaml").write_text(yaml.safe_dump(task))
        created = tools.run("kubectl", "create", "-f", str(tmp_path / "task.yaml"), kubeconfig=kubeconfig)
        assert created.returncode == 0, created.stderr
        assert tools.can_i(kubeconfig, "update", f"workflows.{GROUP}/finalizers", namespace)
        assert not tools.can_i(kubeconfig, "update", f"files.{GROUP}/finalizers", namespace)
    finally:
        tools.helm("uninstall", release, "-n", namespace)
