"""The operator tier's client of a real kube-apiserver (tests/support/controlplane.py).

The control plane lives for the whole session, so a test cannot start from an empty
server as it does with the emulator: the CRDs are installed once (``install_crds``) and
every test gets a namespace of its own (``RealKube.start``), emptied and deleted after it.
The client has the emulator handle's surface (``tests.support.kubeapi.Kube``), so one
scenario runs against either.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
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


class RealKube(Kube):
    """A test's own namespace on the session's control plane, as the admin."""

    def __init__(self, plane: ControlPlane, workdir: Path) -> None:
        namespace = f"t-{uuid.uuid4().hex[:10]}"
        super().__init__(plane.server, workdir / "kubeconfig", namespace)
        self.plane = plane
        admin_session(self, plane)

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
