"""`clockwork watch`: converge once, then the health loop over local resources."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from clockwork.errors import InvalidResource
from clockwork.local.driver import LocalDriver
from clockwork.local.loading import Loaded, files, load
from clockwork.local.outcome import Outcome


class Watcher:
    """`clockwork watch`: converge once, then the health loop, until stopped.

    The same monitor intent the operator's daemons run: checks at each resource's
    interval, remediation with backoff. Files are re-read when they change, and a
    changed resource is converged again.
    """

    def __init__(
        self,
        driver: LocalDriver,
        paths: list[Path],
        report: Callable[[Outcome], None],
        *,
        reload_seconds: float = 2.0,
        idle_seconds: float = 60.0,
    ) -> None:
        self.driver = driver
        self.paths = paths
        self.report = report
        self.reload_seconds = reload_seconds
        self.idle_seconds = idle_seconds
        self.items: dict[str, Loaded] = {}
        self.wake: dict[str, float] = {}
        self._stamps: dict[Path, float] = {}
        # The verdict and message last seen per resource: an unchanged one is not said again.
        self._seen: dict[str, tuple[bool, str]] = {}

    def _stamp(self) -> dict[Path, float]:
        return {p: p.stat().st_mtime for p in files(self.paths)}

    async def _converge(self, items: list[Loaded]) -> None:
        self.driver.batch = list(self.items.values())
        for item in items:
            outcome = await self.driver.reconcile(item, "converge")
            self._tell(item.ref, outcome, always=True)
            self._schedule(item, outcome)

    def _tell(self, ref: str, outcome: Outcome, *, always: bool = False) -> None:
        """Report what is new: events, or a failure whose verdict or message changed.

        A check that fails the same way every few seconds (remediation exhausted) is
        said once, not once per check; once it changes (healed, or failing otherwise)
        it is said again.
        """
        if always or outcome.events:
            # Events say what happened; the state they leave is said by the next check, once.
            self._seen.pop(ref, None)
            self.report(outcome)
            return
        seen = (outcome.ok, outcome.message)
        changed = self._seen.get(ref) != seen
        self._seen[ref] = seen
        if changed and not outcome.ok:
            self.report(outcome)

    def _schedule(self, item: Loaded, outcome: Outcome) -> None:
        delay = outcome.wake_after if outcome.wake_after is not None else self.idle_seconds
        self.wake[item.ref] = time.monotonic() + min(delay, self.idle_seconds)

    async def _reload(self) -> None:
        try:
            stamps = self._stamp()
        except (OSError, InvalidResource):
            return
        if stamps == self._stamps:
            return
        self._stamps = stamps
        try:
            fresh = {item.ref: item for item in load(self.paths, self.driver.settings.input_limits)}
        except InvalidResource as exc:
            self.report(Outcome(ref="input", intent="converge", ok=False, status=None, message=str(exc)))
            return
        changed = [
            i for ref, i in fresh.items() if ref not in self.items or i.resource.spec != self.items[ref].resource.spec
        ]
        self.items = fresh
        await self._converge(changed)

    async def run(self, stop: asyncio.Event) -> None:
        self._stamps = self._stamp()
        self.items = {item.ref: item for item in load(self.paths, self.driver.settings.input_limits)}
        await self._converge(list(self.items.values()))
        while not stop.is_set():
            now = time.monotonic()
            for ref, item in list(self.items.items()):
                if self.wake.get(ref, now) <= now:
                    outcome = await self.driver.reconcile(item, "monitor")
                    self._tell(ref, outcome)
                    self._schedule(item, outcome)
            await self._reload()
            next_wake = min(self.wake.values(), default=now + self.idle_seconds)
            timeout = max(0.05, min(next_wake - time.monotonic(), self.reload_seconds))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout)
