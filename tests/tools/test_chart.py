"""The Helm chart, the install manifest, the alerts and the dashboards.

`helm lint` and `helm template` (the helm binary from scripts/install-k8s-tools.sh)
with the default values and with every feature on; each rendered object passes
kubernetes-validate --strict (the Prometheus Operator's kinds are checked by shape
and their rules by promtool); the chart's CRDs equal crds/; manifests/install.yaml
and the dashboards equal what their generators make; `promtool check rules` and
`promtool test rules` (a case per alert); dashboards import cleanly (uid, datasource
variable, no ${DS_...} placeholders).
"""

from __future__ import annotations

import json
import re
import runpy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from clockwork.api.registry import ALL_KINDS

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "clockwork"
HELM = REPO / ".tools" / "bin" / "helm"
ALL_FEATURES = CHART / "ci-all-features.yaml"
PEERING_CRD = CHART / "crds" / "kopf.dev_clusterkopfpeerings.yaml"
K8S = "1.33.0"


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail("helm is missing: run scripts/install-k8s-tools.sh (make test does)")
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)


def render(*values: Path) -> list[dict[str, Any]]:
    args = [a for v in values for a in ("-f", str(v))]
    out = helm("template", "cw", str(CHART), "--namespace", "clockwork-system", *args)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.mark.parametrize("values", [[], [ALL_FEATURES]], ids=["defaults", "all-features"])
def test_lint_and_every_object_is_valid(values: list[Path]) -> None:
    linted = helm("lint", "--strict", str(CHART), *[a for v in values for a in ("-f", str(v))])
    assert linted.returncode == 0, linted.stdout + linted.stderr
    docs = render(*values)
    kinds = sorted(d["kind"] for d in docs)
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            assert doc["spec"], doc
            continue
        kubernetes_validate.validate(doc, K8S, strict=True)
    base = [
        "ClusterRole",
        "ClusterRole",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "ServiceAccount",
    ]
    if values:
        assert kinds == sorted([*base, "ServiceMonitor", "PrometheusRule", "NetworkPolicy", *["ConfigMap"] * 4])
    else:
        assert kinds == sorted(base)


def test_deployment_is_locked_down() -> None:
    deployment = next(d for d in render(ALL_FEATURES) if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" and container["readinessProbe"]
    assert container["resources"]["limits"]["memory"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CW_MODEL"] == "openai/gpt-4o-mini" and env["CW_API_KEY_FILE"].startswith("/var/run/secrets/")
    assert "CW_API_KEY" not in env  # the key only ever comes from the mounted Secret
    assert container["args"][-2:] == ["--namespace=edge", "--namespace=shop"]


def test_rbac_is_least_privilege() -> None:
    roles = {d["metadata"]["name"]: d for d in render() if d["kind"] == "ClusterRole"}
    operator = roles["cw-clockwork"]
    for rule in operator["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
    secrets = [r for r in operator["rules"] if "secrets" in r["resources"]]
    assert [r["verbs"] for r in secrets] == [["get"]]  # read one named key, never list Secrets
    ours_writing = [
        r
        for r in operator["rules"]
        if "clockwork.dev" in r["apiGroups"] and {"create", "update", "delete"} & set(r["verbs"])
    ]
    # only a Workflow's Tasks are created and deleted by the operator, owned by the Workflow
    # (blockOwnerDeletion: update on workflows/finalizers)
    assert ours_writing == [
        {"apiGroups": ["clockwork.dev"], "resources": ["tasks"], "verbs": ["create", "delete"]},
        {"apiGroups": ["clockwork.dev"], "resources": ["workflows/finalizers"], "verbs": ["update"]},
    ]
    ours = [r for r in operator["rules"] if r["apiGroups"] == ["clockwork.dev"]]
    plurals = {info.plural for info in ALL_KINDS.values()}
    assert set(ours[0]["resources"]) == plurals, "every kind (and nothing else) in the operator's role"
    assert set(ours[-1]["resources"]) == {f"{p}/status" for p in plurals}
    viewer, editor = roles["cw-clockwork-viewer"], roles["cw-clockwork-editor"]
    assert viewer["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert "rbac.authorization.k8s.io/aggregate-to-view" not in editor["metadata"]["labels"]
    # people write the kinds, never their status (the operator's): no "*", which matches subresources
    assert [r["resources"] for r in editor["rules"]] == [ours[0]["resources"]]


def test_chart_crds_equal_the_generated_ones() -> None:
    chart = {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")}
    top = {p.name: p.read_text() for p in (REPO / "crds").glob("*.yaml")}
    assert set(chart) == {*top, PEERING_CRD.name}, "only kopf's peering CRD is the chart's own"
    assert {name: chart[name] for name in top} == top, "charts/clockwork/crds drifted from crds/: run `make generate`"


def test_the_peering_crd_is_the_one_kopf_looks_for() -> None:
    from kopf._cogs.structs.references import CLUSTER_PEERINGS_K, Resource

    crd = yaml.safe_load(PEERING_CRD.read_text())
    kubernetes_validate.validate(crd, K8S, strict=True)
    spec = crd["spec"]
    assert (spec["group"], spec["names"]["plural"], spec["scope"]) == ("kopf.dev", "clusterkopfpeerings", "Cluster")
    (version,) = spec["versions"]
    names = spec["names"]
    served = Resource(spec["group"], version["name"], names["plural"], kind=names["kind"],
                      singular=names["singular"], namespaced=False)  # fmt: skip
    assert CLUSTER_PEERINGS_K.check(served), (served, CLUSTER_PEERINGS_K)
    assert "subresources" not in version, "kopf patches the peers into status through the object itself"
    assert version["schema"]["openAPIV3Schema"]["properties"]["status"]["x-kubernetes-preserve-unknown-fields"]


@pytest.mark.parametrize("replicas", [1, 2])
def test_every_replica_count_peers(replicas: int, tmp_path: Path) -> None:
    """Peering is on at any replica count: `kubectl scale` bypasses the values, so a chart
    that peered only from two replicas on would let scaled-up replicas all work at once."""
    values = tmp_path / "values.yaml"
    values.write_text(f"replicaCount: {replicas}\npeering: {{lifetime: 12}}\n")
    docs = render(values)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == replicas
    # the new pod waits as a standby until the old one has stopped (and left the peering)
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["CW_PEERING"]["value"] == "clockwork-system.cw-clockwork"
    assert env["CW_PEERING_LIFETIME"]["value"] == "12"
    assert env["POD_ID"]["valueFrom"] == {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}
    role = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "cw-clockwork")
    peering = [r for r in role["rules"] if r["apiGroups"] == ["kopf.dev"]]
    assert peering == [
        {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings"],
         "verbs": ["get", "list", "watch", "patch", "create"]}
    ]  # fmt: skip


def test_install_manifest_is_the_rendered_chart(tmp_path: Path) -> None:
    out = tmp_path / "install.yaml"
    subprocess.run(
        [str(REPO / "scripts" / "render-install.sh"), str(out)],
        check=True,
        env={"HELM": str(HELM), "PATH": "/usr/bin:/bin"},
    )
    assert (REPO / "manifests" / "install.yaml").read_text() == out.read_text(), "run `make generate`"
    docs = [d for d in yaml.safe_load_all(out.read_text()) if d]
    crds = [d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert docs[0]["kind"] == "Namespace" and len(crds) == len(ALL_KINDS) + 1
    assert "clusterkopfpeerings.kopf.dev" in crds
    for doc in docs:
        kubernetes_validate.validate(doc, K8S, strict=True)


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing (Debian: package prometheus; make test installs it)")
    return found


def test_alert_rules_check_and_unit_tests(promtool: str, tmp_path: Path) -> None:
    checked = subprocess.run(
        [promtool, "check", "rules", str(CHART / "files" / "alerts.yaml")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", str(CHART / "tests" / "alerts_test.yaml")], capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = {
        r["alert"] for g in yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())["groups"] for r in g["rules"]
    }
    cases = (CHART / "tests" / "alerts_test.yaml").read_text()
    assert alerts == set(re.findall(r"alertname: (\w+)", cases)), "every alert needs a promtool test case"
    assert alerts == {"ClockworkOperatorDown", "ClockworkReconcileErrors", "ClockworkResourceUnhealthy",
                      "ClockworkRemediationExhausted", "ClockworkEdgeNodeOffline"}  # fmt: skip
    # the PrometheusRule the chart renders carries exactly this rule file
    rule = next(d for d in render(ALL_FEATURES) if d["kind"] == "PrometheusRule")
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())


def test_a_broken_alert_test_fails(promtool: str, tmp_path: Path) -> None:
    """promtool really judges: a case that expects the wrong labels fails."""
    case = yaml.safe_load((CHART / "tests" / "alerts_test.yaml").read_text())
    case["rule_files"] = [str(CHART / "files" / "alerts.yaml")]
    case["tests"][-1]["alert_rule_test"][-1]["exp_alerts"][0]["exp_labels"]["name"] = "pi-2"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(case))
    assert subprocess.run([promtool, "test", "rules", str(path)], capture_output=True).returncode != 0


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted((CHART / "dashboards").glob("*.json"))}


def test_dashboards_equal_their_generator() -> None:
    generated = runpy.run_path(str(REPO / "scripts" / "gen_dashboards.py"))["render"]()
    on_disk = {p.name: p.read_text() for p in (CHART / "dashboards").glob("*.json")}
    assert on_disk == generated, "dashboards drifted: run `make generate`"


@pytest.mark.parametrize("name", list(dashboards()))
def test_dashboard_imports_cleanly(name: str) -> None:
    board = dashboards()[name]
    text = json.dumps(board)
    assert re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"]) and board["title"].startswith("Clockwork / ")
    assert "${DS_" not in text and "__inputs" not in board
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"])
        assert panel["gridPos"]["x"] >= 0 and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


def test_uids_are_unique_and_the_chart_ships_every_dashboard() -> None:
    boards = dashboards()
    assert len({b["uid"] for b in boards.values()}) == len(boards) == 4
    maps = [d for d in render(ALL_FEATURES) if d["kind"] == "ConfigMap"]
    assert sorted(next(iter(m["data"])) for m in maps) == sorted(boards)
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps)
    for m in maps:
        ((name, text),) = m["data"].items()
        assert json.loads(text) == boards[name]
