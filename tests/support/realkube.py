"""The operator tier's client of a real kube-apiserver (tests/support/controlplane.py).

The control plane lives for the whole session, so a test cannot start from an empty
server as it does with the emulator: the CRDs are installed once (``install_crds``) and
every test gets a namespace of its own (``RealKube.start``), emptied and deleted after it.
The client has the emulator handle's surface (``tests.support.kubeapi.Kube``), so one
scenario runs against either.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.controlplane import ControlPlane
from tests.support.kubeapi import CRD_PATH, ApiStatus, Kube

# Every kind of ours, by plural: what a test's namespace is emptied of.
PLURALS = sorted(
    doc["spec"]["names"]["plural"]
    for path in (Path(__file__).resolve().parents[2] / "crds").glob("*.yaml")
    for doc in yaml.safe_load_all(path.read_text())
    if doc
)
CRD_ESTABLISHED_SECONDS = 60.0
EMPTY_NAMESPACE_SECONDS = 30.0
REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "clockwork"
# The operator's tokens outlive any test (the TokenRequest API's minimum is 10 minutes).
TOKEN_SECONDS = 3600


def k8s_tools() -> Path:
    """The folder with kubectl and helm (scripts/install-k8s-tools.sh, idempotent)."""
    proc = subprocess.run(
        [str(REPO / "scripts" / "install-k8s-tools.sh")], capture_output=True, text=True, timeout=600
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/install-k8s-tools.sh failed:\n{proc.stderr}")
    return Path(proc.stdout.strip().splitlines()[-1])


def admin_session(kube: Kube, plane: ControlPlane) -> None:
    kube.http.cert = (str(plane.admin.cert), str(plane.admin.key))
    kube.verify = str(plane.ca)


def install_crds(plane: ControlPlane, crd_dir: Path) -> list[str]:
    """Create or replace every CRD in ``crd_dir``; returns their names once all are Established."""
    kube = Kube(plane.server, plane.kubeconfig)
    admin_session(kube, plane)
    names: list[str] = []
    for path in sorted(crd_dir.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            name = doc["metadata"]["name"]
            try:
                kube.request("POST", CRD_PATH, doc)
            except ApiStatus as exc:
                if exc.code != 409:
                    raise
                current = kube.request("GET", f"{CRD_PATH}/{name}")
                doc["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                kube.request("PUT", f"{CRD_PATH}/{name}", doc)
            names.append(name)

    def established(name: str) -> bool:
        conditions = kube.request("GET", f"{CRD_PATH}/{name}").get("status", {}).get("conditions", [])
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    def served(plural: str) -> bool:
        # Established is not yet served: until its watch cache is filled, the server
        # answers "429 storage is (re)initializing" for a new kind.
        try:
            kube.request("GET", kube.path(plural, namespace=None))
        except ApiStatus as exc:
            if exc.code != 429:
                raise
            return False
        return True

    kube.wait_for("CRDs Established", lambda: all(established(n) for n in names), CRD_ESTABLISHED_SECONDS)
    kube.wait_for("CRDs served", lambda: all(served(p) for p in PLURALS), CRD_ESTABLISHED_SECONDS)
    kube.http.close()
    return names


def write_token_kubeconfig(path: Path, plane: ControlPlane, user: str, token: str, namespace: str) -> Path:
    """A kubeconfig (mode 0600) that authenticates to ``plane`` with a bearer token, in ``namespace``."""
    cluster = {"server": plane.server, "certificate-authority": str(plane.ca)}
    path.write_text(
        yaml.safe_dump({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "real", "cluster": cluster}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "real", "context": {"cluster": "real", "user": user, "namespace": namespace}}],
            "current-context": "real",
        })
    )  # fmt: skip
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class OperatorAccount:
    """The chart's ServiceAccount, bound by the chart's own ClusterRole: who the operator runs as."""

    namespace: str
    name: str
    cluster_objects: tuple[str, ...]  # kubectl names of the ClusterRole and its binding


def install_operator_account(plane: ControlPlane) -> OperatorAccount:
    """Renders the chart's ServiceAccount and RBAC (`helm template`) into a namespace of its own.

    Only those objects, not the Deployment: there is no kubelet, and the operator under test
    is a process on this machine that authenticates with the ServiceAccount's token.
    """
    release = f"cw{uuid.uuid4().hex[:6]}"
    namespace = f"{release}-system"
    tools = k8s_tools()
    rendered = subprocess.run(
        [str(tools / "helm"), "template", release, str(CHART), "-n", namespace,
         "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml",
         "--set", "rbac.userRoles=false"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    kubectl = [str(tools / "kubectl"), f"--kubeconfig={plane.kubeconfig}"]
    subprocess.run([*kubectl, "create", "namespace", namespace], capture_output=True, timeout=60, check=True)
    subprocess.run([*kubectl, "apply", "-f", "-"], input=rendered, capture_output=True, text=True, timeout=60,
                   check=True)  # fmt: skip
    [account] = [d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"]
    cluster = tuple(f"{d['kind'].lower()}/{d['metadata']['name']}" for d in docs if d["kind"].startswith("Cluster"))
    assert len(cluster) == 2, f"the chart's RBAC changed shape: {cluster}"
    return OperatorAccount(namespace, account, cluster)


def remove_operator_account(plane: ControlPlane, account: OperatorAccount) -> None:
    kubectl = [str(k8s_tools() / "kubectl"), f"--kubeconfig={plane.kubeconfig}"]
    for name in account.cluster_objects:
        subprocess.run([*kubectl, "delete", name, "--ignore-not-found"], capture_output=True, timeout=60)
    subprocess.run([*kubectl, "delete", "namespace", account.namespace, "--wait=false"], capture_output=True,
                   timeout=60)  # fmt: skip


class RealKube(Kube):
    """A test's own namespace on the session's control plane: the test as the admin, the operator
    (``operator_kubeconfig``) as the chart's ServiceAccount when ``account`` is given."""

    def __init__(self, plane: ControlPlane, workdir: Path, account: OperatorAccount | None = None) -> None:
        namespace = f"t-{uuid.uuid4().hex[:10]}"
        super().__init__(plane.server, workdir / "kubeconfig", namespace)
        self.plane = plane
        self.account = account
        self.workdir = workdir
        admin_session(self, plane)

    def operator_kubeconfig(self) -> Path:
        """A kubeconfig with a fresh token of the operator's ServiceAccount (TokenRequest API)."""
        if self.account is None:
            return self.kubeconfig
        account = self.account
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                   "spec": {"expirationSeconds": TOKEN_SECONDS}}  # fmt: skip
        token = self.request(
            "POST", f"/api/v1/namespaces/{account.namespace}/serviceaccounts/{account.name}/token", request
        )["status"]["token"]
        user = f"system:serviceaccount:{account.namespace}:{account.name}"
        return write_token_kubeconfig(
            self.workdir / f"{account.name}.kubeconfig", self.plane, user, token, self.namespace
        )

    def list_requests(self, plural: str) -> int:
        """From the server's own count (apiserver_request_total), over every namespace."""
        text = self.http.get(self.url + "/metrics", timeout=10, verify=self.verify).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("apiserver_request_total{") and 'verb="LIST"' in line and f'resource="{plural}"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def start(self) -> RealKube:
        # The admin's kubeconfig, with this test's namespace as the default (kubectl, clients).
        config = yaml.safe_load(self.plane.kubeconfig.read_text())
        config["contexts"][0]["context"]["namespace"] = self.namespace
        self.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
        self.kubeconfig.chmod(0o600)
        self.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": self.namespace}})  # fmt: skip
        return self

    def delete_namespace(self) -> None:
        try:
            self.request("DELETE", f"/api/v1/namespaces/{self.namespace}")
        except ApiStatus as exc:
            if exc.code != 404:
                raise

    def namespace_gone(self) -> bool:
        found = self.request("GET", f"/api/v1/namespaces/{self.namespace}", expect=(200, 404))
        return bool(found.get("kind") == "Status")

    def stop(self) -> None:
        """Empties the namespace of our objects and deletes it.

        The operator is stopped by now: nobody would remove its finalizer, so this does,
        then waits until the objects are gone (an operator of a later test must not find
        them), and leaves the rest (Events) to the namespace controller.
        """
        try:
            for plural in PLURALS:
                for item in self.list(plural):
                    name = item["metadata"]["name"]
                    if item["metadata"].get("finalizers"):
                        self._quietly(self.patch, plural, name, {"metadata": {"finalizers": None}})
                    if "deletionTimestamp" not in item["metadata"]:
                        self._quietly(self.delete, plural, name)
            self.wait_for(
                f"namespace {self.namespace} empty of our objects",
                lambda: not any(self.list(plural) for plural in PLURALS),
                EMPTY_NAMESPACE_SECONDS,
            )
            self.delete_namespace()
        finally:
            self.http.close()

    @staticmethod
    def _quietly(call: Callable[..., Any], *args: Any) -> None:
        """A call that may find the object gone already."""
        try:
            call(*args)
        except ApiStatus as exc:
            if exc.code != 404:
                raise
