"""The few Kubernetes API calls the operator makes itself (kopf does the rest).

Status patches from the health daemons (kopf applies no patches for daemons that
keep running). The official client is synchronous, so every call runs in a worker
thread: never on the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from clockwork.api.base import GROUP, VERSION
from clockwork.errors import TemporaryError


class KubeClient:
    def __init__(self, api_client: client.ApiClient | None = None) -> None:
        self.api = client.ApiClient() if api_client is None else api_client
        self.custom = client.CustomObjectsApi(self.api)

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

    def close(self) -> None:
        self.api.close()
