"""The Kubernetes API emulator (``server``) and its test-side handle (``KubeAPI``).

``KubeAPI.start(crd_dir)`` serves the emulator on a free 127.0.0.1 port from a
thread with its own event loop (so that tests, ``kubectl`` and a separate operator
process can all talk to it), writes a kubeconfig, installs the CRDs through the
API like ``kubectl apply`` would, and offers a small synchronous client for tests.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml
from aiohttp import web

from tests.support.kubeapi.server import Emulator

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


class Kube:
    """A small synchronous client of one API server, the tests' side of it.

    ``namespace`` is where the methods work unless they are given another; ``kubeconfig``
    is what a separate process (the operator, kubectl) uses to reach the same server.
    """

    def __init__(self, url: str, kubeconfig: Path, namespace: str = "default") -> None:
        self.url = url
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.http = requests.Session()
        # Per request, not on the session: requests prefers $REQUESTS_CA_BUNDLE to a session's verify.
        self.verify: bool | str = True

    def operator_kubeconfig(self) -> Path:
        """The kubeconfig the operator under test uses: the same as the test's here."""
        return self.kubeconfig

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        expect: tuple[int, ...] = (200, 201),
    ) -> Any:
        response = self.http.request(
            method,
            self.url + path,
            json=body,
            headers={"Content-Type": content_type},
            timeout=30,
            verify=self.verify,
        )
        if response.status_code not in expect:
            raise ApiStatus(response.status_code, response.json() if response.content else {})
        return response.json() if response.content else None

    @staticmethod
    def path(
        plural: str,
        namespace: str | None = "default",
        name: str | None = None,
        group: str = "clockwork.dev",
        version: str = "v1alpha1",
        sub: str | None = None,
    ) -> str:
        base = f"/apis/{group}/{version}" if group else "/api/v1"
        ns = f"/namespaces/{namespace}" if namespace else ""
        return base + ns + f"/{plural}" + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")

    def list_requests(self, plural: str) -> int:
        """How many LIST requests (not watches) of ``plural`` the server has answered so far."""
        raise NotImplementedError

    def create(self, plural: str, obj: dict[str, Any], **kw: Any) -> Any:
        namespace = obj.get("metadata", {}).get("namespace") or self.namespace
        return self.request("POST", self.path(plural, namespace, **kw), obj)

    def get(self, plural: str, name: str, namespace: str | None = None, **kw: Any) -> Any:
        return self.request("GET", self.path(plural, namespace or self.namespace, name, **kw))

    def find(self, plural: str, name: str, namespace: str | None = None, **kw: Any) -> Any | None:
        try:
            return self.get(plural, name, namespace, **kw)
        except ApiStatus as exc:
            if exc.code == 404:
                return None
            raise

    def list(self, plural: str, namespace: str | None = None, **kw: Any) -> list[Any]:
        return list(self.request("GET", self.path(plural, namespace or self.namespace, **kw))["items"])

    def patch(
        self,
        plural: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        sub: str | None = None,
        **kw: Any,
    ) -> Any:
        path = self.path(plural, namespace or self.namespace, name, sub=sub, **kw)
        return self.request("PATCH", path, patch, "application/merge-patch+json")

    def delete(self, plural: str, name: str, namespace: str | None = None, **kw: Any) -> Any:
        return self.request("DELETE", self.path(plural, namespace or self.namespace, name, **kw))

    def events(self, name: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.list("events", namespace, group="", version="v1")
            if e.get("involvedObject", {}).get("name") == name
        ]

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float = 60, every: float = 0.2) -> Any:
        """Poll ``predicate`` until it returns something truthy; bounded by ``timeout``."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class KubeAPI(Kube):
    """The emulator, served from a thread of this process, and a client of it."""

    def __init__(self, workdir: Path) -> None:
        super().__init__("", workdir / "kubeconfig")
        self.workdir = workdir
        self.emulator = Emulator()
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.emulator.app(), shutdown_timeout=1)
        self._thread = threading.Thread(target=self._serve, daemon=True, name="kube-emulator")
        self._started = threading.Event()

    def list_requests(self, plural: str) -> int:
        lists = [p for m, p in list(self.emulator.requests) if m == "GET" and "watch=" not in p]
        return sum(1 for path in lists if path.split("?")[0].endswith(f"/{plural}"))

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._started.set()
        self._loop.run_forever()

    def start(self, crd_dir: Path | None = None) -> KubeAPI:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the Kubernetes API emulator did not start")
        self.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "emulator",
                    "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": "emulator-token"}}],
                    "contexts": [
                        {
                            "name": "emulator",
                            "context": {"cluster": "emulator", "user": "tester", "namespace": "default"},
                        }
                    ],
                }
            )
        )
        for path in sorted(crd_dir.glob("*.yaml") if crd_dir else []):
            for doc in yaml.safe_load_all(path.read_text()):
                if doc:
                    self.request("POST", CRD_PATH, doc)
        return self

    async def _shutdown(self) -> None:
        await self._runner.cleanup()
        # Watch streams still open (an operator that was killed) end here, not at loop close.
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def stop(self) -> None:
        self.http.close()
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


class ApiStatus(Exception):
    def __init__(self, code: int, body: dict[str, Any]) -> None:
        super().__init__(f"{code}: {body.get('message', body)}")
        self.code = code
        self.body = body
