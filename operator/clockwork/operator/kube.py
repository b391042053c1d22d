"""The few Kubernetes API calls the operator makes itself (kopf does the rest).

Status patches from the health loop and the EdgeNode heartbeats (kopf applies no patches
outside its handlers). The official client is synchronous, so every call runs in a worker
thread: never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from clockwork.api.base import GROUP, VERSION
from clockwork.errors import PermanentError, TemporaryError

# kopf's peering objects (ClusterKopfPeering: the replicas of one operator find each other).
PEERING_GROUP = "kopf.dev"


class KubeClient:
    def __init__(self, api_client: client.ApiClient | None = None) -> None:
        self.api = client.ApiClient() if api_client is None else api_client
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)

    @classmethod
    def from_environment(cls) -> KubeClient:
        """In-cluster credentials when running in a pod, else $KUBECONFIG / ~/.kube/config."""
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        return cls(client.ApiClient())

    async def patch_status(self, plural: str, namespace: str, name: str, status: dict[str, Any]) -> None:
        body = {"status": status}
        try:
            await asyncio.to_thread(
                self.custom.patch_namespaced_custom_object_status,
                GROUP, VERSION, namespace, plural, name, body,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                return  # deleted meanwhile: nothing to report on
            where = f"{plural}/{namespace}/{name}"
            raise TemporaryError(f"status patch of {where} failed: {exc.status} {exc.reason}") from exc

    async def list_objects(self, plural: str, namespace: str) -> list[dict[str, Any]]:
        try:
            found = await asyncio.to_thread(
                self.custom.list_namespaced_custom_object, GROUP, VERSION, namespace, plural
            )
        except ApiException as exc:
            raise TemporaryError(f"listing {plural} in {namespace} failed: {exc.status} {exc.reason}") from exc
        return list(found.get("items", []))

    async def create_object(self, plural: str, namespace: str, body: dict[str, Any]) -> bool:
        """Create one of our objects; False when it exists already."""
        try:
            await asyncio.to_thread(
                self.custom.create_namespaced_custom_object, GROUP, VERSION, namespace, plural, body
            )
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise TemporaryError(f"creating {plural} in {namespace} failed: {exc.status} {exc.reason}") from exc
        return True

    async def delete_object(self, plural: str, namespace: str, name: str) -> None:
        try:
            await asyncio.to_thread(
                self.custom.delete_namespaced_custom_object, GROUP, VERSION, namespace, plural, name
            )
        except ApiException as exc:
            if exc.status != 404:
                raise TemporaryError(f"deleting {plural}/{name} failed: {exc.status} {exc.reason}") from exc

    async def ensure_cluster_peering(self, name: str) -> None:
        """Create the ClusterKopfPeering ``name`` unless it exists (kopf only patches it)."""
        body = {"apiVersion": f"{PEERING_GROUP}/v1", "kind": "ClusterKopfPeering", "metadata": {"name": name}}
        try:
            await asyncio.to_thread(
                self.custom.create_cluster_custom_object, PEERING_GROUP, "v1", "clusterkopfpeerings", body
            )
        except ApiException as exc:
            if exc.status == 409:
                return
            if exc.status == 404:
                raise PermanentError(
                    f"CW_PEERING={name}: the ClusterKopfPeering CRD is not installed "
                    "(charts/clockwork/crds/kopf.dev_clusterkopfpeerings.yaml)"
                ) from exc
            raise TemporaryError(f"creating ClusterKopfPeering {name} failed: {exc.status} {exc.reason}") from exc

    async def read_cluster_peering(self, name: str) -> dict[str, Any] | None:
        """The ClusterKopfPeering ``name`` (None when it is not there)."""
        try:
            found = await asyncio.to_thread(
                self.custom.get_cluster_custom_object, PEERING_GROUP, "v1", "clusterkopfpeerings", name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise TemporaryError(f"reading ClusterKopfPeering {name} failed: {exc.status} {exc.reason}") from exc
        return dict(found)

    async def read_secret(self, namespace: str, name: str, key: str) -> str:
        """One value of a Secret, decoded; PermanentError when it is not there."""
        try:
            secret = await asyncio.to_thread(self.core.read_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise PermanentError(f"Secret {namespace}/{name} not found") from exc
            raise TemporaryError(f"reading Secret {namespace}/{name} failed: {exc.status} {exc.reason}") from exc
        data = secret.data or {}
        if key not in data:
            raise PermanentError(f"Secret {namespace}/{name} has no key {key!r} (it has: {', '.join(sorted(data))})")
        return base64.b64decode(data[key]).decode()

    async def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        """Create a core/v1 Event (clockwork.operator.events builds it)."""
        await asyncio.to_thread(self.core.create_namespaced_event, namespace, body)

    # --- what the Job runner needs (runners.job.JobApi) ---

    def _typed(self, api_version: str, plural: str) -> tuple[Any, str]:
        """The typed client and the method suffix for a kind the Job runner uses."""
        known = {("v1", "configmaps"): (self.core, "namespaced_config_map"),
                 ("batch/v1", "jobs"): (self.batch, "namespaced_job")}  # fmt: skip
        if (api_version, plural) not in known:
            raise ValueError(f"no typed client for {api_version} {plural}")
        return known[(api_version, plural)]

    async def create(self, api_version: str, plural: str, namespace: str, body: dict[str, Any]) -> None:
        api, suffix = self._typed(api_version, plural)
        await asyncio.to_thread(getattr(api, f"create_{suffix}"), namespace, body)

    async def get(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        api, suffix = self._typed(api_version, plural)
        try:
            found = await asyncio.to_thread(getattr(api, f"read_{suffix}"), name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(self.api.sanitize_for_serialization(found))

    async def delete(self, api_version: str, plural: str, namespace: str, name: str) -> None:
        api, suffix = self._typed(api_version, plural)
        await asyncio.to_thread(getattr(api, f"delete_{suffix}"), name, namespace, propagation_policy="Background")

    async def pod_log(self, namespace: str, selector: str) -> str:
        pods = await asyncio.to_thread(self.core.list_namespaced_pod, namespace, label_selector=selector)
        if not pods.items:
            return ""
        newest = sorted(pods.items, key=lambda p: p.metadata.creation_timestamp or 0)[-1]
        # Raw bytes: the client's own decoding of a plain-text body is unreliable.
        try:
            response = await asyncio.to_thread(self.core.read_namespaced_pod_log, newest.metadata.name, namespace,
                                               tail_lines=2000, _preload_content=False)  # fmt: skip
        except ApiException as exc:  # one line, not the client's dump of headers and body
            raise TemporaryError(f"the log of pod {newest.metadata.name}: {exc.status} {_message(exc)}") from exc
        return bytes(response.data).decode(errors="replace")

    @classmethod
    def from_kubeconfig(cls, path: str) -> KubeClient:
        return cls(config.new_client_from_config(path))

    def close(self) -> None:
        self.api.close()


def _message(exc: ApiException) -> str:
    """The server's message of a failed call (its Status), else the HTTP reason."""
    try:
        return str(json.loads(exc.body)["message"])
    except (TypeError, ValueError, KeyError):
        return str(exc.reason)
