"""Whether this replica is the one that works, as kopf's peering decides it.

kopf pauses its watches and handlers while a live peer has a higher (or the same) priority,
but Clockwork's health loop is its own, outside kopf: a replica paused after it had worked
(a peer of higher priority joined) would go on checking and remediating what the working
one now handles. The health loop asks :class:`PeeringGate` first; it reads the same
ClusterKopfPeering with kopf's rule (:func:`working`).
"""

from __future__ import annotations

import getpass
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

# kopf's lifetime of a peer that does not say (a hard-coded value there too).
DEFAULT_PEER_LIFETIME = 60
# How long one read of the peering object answers for.
CACHE_SECONDS = 1.0

ReadPeering = Callable[[], Awaitable[Mapping[str, Any] | None]]


def identity() -> str:
    """This replica's name among its peers: the pod's (POD_ID), else user@host/pid/random."""
    pod = os.environ.get("POD_ID")
    if pod:
        return pod
    return f"{getpass.getuser()}@{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(3)}"


def working(peers: Mapping[str, Any], me: str, priority: int, now: datetime) -> bool:
    """kopf's rule: paused while another live peer has this priority or a higher one."""
    for name, info in peers.items():
        if name == me or not isinstance(info, Mapping):
            continue
        lifetime = timedelta(seconds=int(info.get("lifetime", DEFAULT_PEER_LIFETIME)))
        seen = info.get("lastseen")
        try:
            lastseen = datetime.fromisoformat(str(seen)) if seen is not None else now
        except ValueError:
            lastseen = now
        if lastseen.tzinfo is None:
            lastseen = lastseen.replace(tzinfo=UTC)
        if lastseen + lifetime > now and int(info.get("priority", 0)) >= priority:
            return False
    return True


class PeeringGate:
    """Answers "do I work?" from the peering object, read at most once a second."""

    def __init__(self, read: ReadPeering, me: str, priority: int) -> None:
        self._read, self.me, self.priority = read, me, priority
        self._answer = False
        self._until = 0.0

    async def working(self) -> bool:
        if time.monotonic() < self._until:
            return self._answer
        try:
            body = await self._read()
        except Exception:  # the API unreachable: kopf cannot renew our record either
            body = None
        # No peering object: kopf waits for one (mandatory peering), and so do we.
        self._answer = body is not None and working(body.get("status") or {}, self.me, self.priority,
                                                     datetime.now(UTC))  # fmt: skip
        self._until = time.monotonic() + CACHE_SECONDS
        return self._answer
