"""Kubernetes Events about our objects, posted from anywhere in the operator.

kopf.event() works only inside kopf's own per-object tasks (it finds its queue in a
context variable set there), and the health loop is not one of them. This poster is
ours: a bounded queue and one task that creates core/v1 Events, so a check, a
remediation or a converge report the same way. Posting never blocks a pass and never
fails one: the status already says it all, an Event is the notification.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from clockwork.api.base import utcnow

log = logging.getLogger("clockwork.operator")

COMPONENT = "clockwork"
# Events waiting to be posted; beyond it new ones are dropped (and counted in the log).
QUEUE_LIMIT = 1000
# core/v1 takes longer messages (kube-apiserver 1.35 kept 3000 characters), but events.k8s.io/v1
# caps a note at 1 KiB and kubectl shows less: the message is cut there.
MESSAGE_LIMIT = 1024

CreateEvent = Callable[[str, dict[str, Any]], Awaitable[None]]


def event_body(obj: Mapping[str, Any], type_: str, reason: str, message: str, instance: str) -> dict[str, Any]:
    """A core/v1 Event about ``obj`` (a body with apiVersion, kind and metadata)."""
    meta = obj.get("metadata", {})
    now = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    namespace = meta.get("namespace") or "default"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta.get('name', 'clockwork')}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta.get("name"),
            "namespace": namespace,
            "uid": meta.get("uid"),
        },
        "type": type_,
        "reason": reason,
        "message": message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "...",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


class EventPoster:
    def __init__(self, create: CreateEvent, *, limit: int = QUEUE_LIMIT) -> None:
        self._create = create
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(limit)
        self._task: asyncio.Task[None] | None = None
        self._dropped = 0
        self.instance = os.environ.get("HOSTNAME") or os.uname().nodename

    def post(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Queue one Event (never blocks; drops it when the queue is full)."""
        try:
            self._queue.put_nowait(event_body(obj, type_, reason, message, self.instance))
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 100 == 0:
                log.warning("%d Events dropped: the API does not keep up", self._dropped)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="clockwork-events")

    async def stop(self, flush_seconds: float = 5.0) -> None:
        """Post what is queued (for at most ``flush_seconds``), then stop."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), flush_seconds)
        except TimeoutError:
            log.warning("%d Events not posted at shutdown", self._queue.qsize())
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        while True:
            body = await self._queue.get()
            try:
                await self._create(body["metadata"]["namespace"], body)
            except Exception as exc:  # best effort: the status already says it all
                about = body["involvedObject"]
                log.warning("could not post event %s for %s/%s: %s", body["reason"], about["kind"], about["name"], exc)
            finally:
                self._queue.task_done()
