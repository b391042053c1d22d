"""The few Kubernetes API calls the operator makes itself (kopf does the rest).

Status patches from the health daemons (kopf applies no patches for daemons that
keep running). The official client is synchronous, so every call runs in a worker
thread: never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from clockwork.api.base import GROUP, VERSION
from clockwork.errors import PermanentError, TemporaryError


class KubeClient:
    def __init__(self, api_client: client.ApiClient | None = None) -> None:
        self.api = client.ApiClient() if api_client is None else api_client
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)

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

    def close(self) -> None:
        self.api.close()
