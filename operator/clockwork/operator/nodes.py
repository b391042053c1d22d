"""The fleet's EdgeNodes as the operator sees them: listed (cached for a moment), reached
(the private key read from its Secret), resolved for a target, probed on a heartbeat."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from clockwork import metrics
from clockwork.api.base import ObjectMeta, utcnow
from clockwork.api.common import Target
from clockwork.api.edgenode import EdgeNode, EdgeNodeStatus
from clockwork.engine import PassResult
from clockwork.errors import PermanentError, TemporaryError, describe_validation_error
from clockwork.fleet import edgenodes
from clockwork.plan import HostSpec, SecretRef
from clockwork.reconcile import Event

if TYPE_CHECKING:
    from clockwork.operator.driver import OperatorDriver

LOCAL_HOST = "@local"
NODE_CACHE_SECONDS = 2.0
log = logging.getLogger("clockwork.operator")


class NodeDirectory:
    def __init__(self, driver: OperatorDriver) -> None:
        self.driver = driver
        self._cache: dict[str, tuple[float, list[tuple[EdgeNode, EdgeNodeStatus | None]]]] = {}

    async def list(self, namespace: str) -> list[tuple[EdgeNode, EdgeNodeStatus | None]]:
        """EdgeNodes of a namespace with their status (cached for a moment: fan-outs list often)."""
        if self.driver.fleet is None:
            return []
        cached = self._cache.get(namespace)
        if cached is not None and time.monotonic() - cached[0] < NODE_CACHE_SECONDS:
            return cached[1]
        found = []
        for body in await self.driver.fleet.list_objects("edgenodes", namespace):
            try:
                node = EdgeNode.model_validate({k: v for k, v in body.items() if k != "status"})
                status = EdgeNodeStatus.model_validate(body.get("status") or {}) if body.get("status") else None
            except ValidationError:
                log.warning("EdgeNode %s/%s is not valid; skipped", namespace, body.get("metadata", {}).get("name"))
                continue
            found.append((node, status))
        self._cache[namespace] = (time.monotonic(), found)
        return found

    async def host(self, node: EdgeNode, status: EdgeNodeStatus | None) -> HostSpec | str:
        """How the worker reaches a node (its key read from the Secret), or why it cannot."""
        ref = node.spec.ssh_key_secret
        if ref is None:
            return f"EdgeNode {node.metadata.name}: set spec.sshKeySecret (a Secret with the private key)"
        if self.driver.fleet is None:
            return "no Kubernetes API to read Secrets from"
        try:
            key = await self.driver.fleet.read_secret(node.metadata.namespace, ref.name, ref.key or "ssh-privatekey")
        except (PermanentError, TemporaryError) as exc:
            return f"EdgeNode {node.metadata.name}: {exc}"
        secret = SecretRef(name=ref.name, key=ref.key or "ssh-privatekey")
        return edgenodes.host_spec(node, status, private_key=key, key_secret=secret)

    async def resolve(
        self, target: Target, meta: Mapping[str, Any]
    ) -> tuple[edgenodes.Resolution, dict[str, HostSpec]]:
        local = HostSpec(name=LOCAL_HOST, state_dir=str(self.driver.settings.node_state_dir or "") or None)
        inventory: dict[str, HostSpec] = {LOCAL_HOST: local}
        if target.local or not (target.node_name or target.node_selector):
            return edgenodes.Resolution(targets=[LOCAL_HOST]), inventory
        object_meta = ObjectMeta.model_validate(dict(meta))
        nodes = await self.list(object_meta.namespace)
        resolution = edgenodes.resolve_targets(target, object_meta, nodes)
        for node, status in nodes:
            self.driver.admit(resolution, inventory, node, await self.host(node, status))
        return resolution, inventory

    async def remember_host_keys(self, namespace: str, result: PassResult) -> None:
        """Host keys a run learned (trust on first use) go to the node's status — only where none
        is recorded yet, as in local mode: a recorded key is changed by a person, never by a run."""
        learned = [h for run in (result.observations.apply, result.observations.check) if run is not None
                   for h in run.hosts if h.learned_host_keys]  # fmt: skip
        if not learned:
            return
        recorded = {n.metadata.name: s.host_key if s else None for n, s in await self.list(namespace)}
        for host in learned:
            if recorded.get(host.name) is None:
                await self.driver.patch_status(
                    "edgenodes", namespace, host.name, {"hostKey": host.learned_host_keys[0]}
                )
                self._cache.pop(namespace, None)

    async def probe(self, body: Mapping[str, Any]) -> EdgeNodeStatus:
        """One heartbeat of an EdgeNode: probe, next status, Events; pokes resources on a phase change."""
        state = self.driver.state(body)
        async with state.lock:
            meta = body.get("metadata", {})
            namespace = meta.get("namespace", "default")
            previous = dict(state.status if state.status is not None else (body.get("status") or {}))
            status = EdgeNodeStatus.model_validate(previous) if previous else None
            try:
                node = EdgeNode.model_validate({k: v for k, v in body.items() if k != "status"})
            except ValidationError as exc:
                message = "; ".join(describe_validation_error(exc, "spec"))
                self.driver._post(body, [Event("Warning", "Invalid", message)])
                return status or EdgeNodeStatus()
            now = utcnow()
            host = await self.host(node, status)
            if isinstance(host, str):
                beat = edgenodes.next_status(node, status, None, now, error=host)
            else:
                result = await self.driver.runners["pyinfra"].run(edgenodes.probe_request(node, host))
                beat = edgenodes.next_status(node, status, result, now)
            patch = {k: v for k, v in beat.status.wire().items()}
            for key in previous:
                patch.setdefault(key, None)
            await self.driver.patch_status("edgenodes", namespace, node.metadata.name, patch)
            state.status = beat.status.wire()
            self._cache.pop(namespace, None)
            self.driver._post(body, beat.events)
            seen = beat.status.last_seen.timestamp() if beat.status.last_seen else None
            metrics.record_node(namespace, node.metadata.name, beat.status.phase or "Unknown", seen)
        if status is None or beat.status.phase != status.phase:
            self.driver.work.slots.poke()  # a Pending Task may fit now
            for uid, other in self.driver.objects.items():
                if other is not state and other.namespace == namespace and other.body is not None:
                    self.driver.health.wake(uid)
        return beat.status

    async def run_daemon(self, body: Mapping[str, Any], stopped: Any) -> None:
        """The heartbeat of one EdgeNode, every heartbeatSeconds until stopped."""
        state = self.driver.state(body)
        state.namespace = body.get("metadata", {}).get("namespace", "default")
        while not stopped:
            state.poke.clear()
            try:
                await self.probe(body)
            except Exception:  # one bad probe must not end the heartbeat
                meta = body.get("metadata") or {}
                log.exception("heartbeat of EdgeNode/%s/%s failed", meta.get("namespace"), meta.get("name"))
            seconds = float((body.get("spec") or {}).get("heartbeatSeconds") or 30)
            poked = asyncio.ensure_future(state.poke.wait())
            stopping = asyncio.ensure_future(stopped.wait(seconds))
            _, pending = await asyncio.wait({poked, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
