"""One health loop for every object: a heap of due times.

A kopf daemon per object kept a task, kopf's daemon bookkeeping and a fresh copy of
the object's whole body alive for each object — about 30 KB apiece, and most of the
operator's memory at 1,000 objects (bench/scale_operator.py). This loop keeps a key
and a due time per object and runs at most ``concurrency`` passes at once.

``wake(key)`` asks for a pass now (a converge, an EdgeNode that changed phase);
after each pass the key is due again when the pass says (``run`` returns seconds,
None for ``idle``). A key is never run twice at once: a wake while it runs makes it
run again right after.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("clockwork.operator")

# The shortest delay between two passes of one key (a pass asking for 0 s must not spin).
MIN_DELAY = 0.05


class HealthScheduler:
    def __init__(self, run: Callable[[str], Awaitable[float | None]], *, idle: float, concurrency: int) -> None:
        self._run = run
        self.idle = idle
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[str, float] = {}  # the live entry per key; older heap entries are stale
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._order = itertools.count()
        self._waiter: asyncio.Future[None] | None = None
        self._slots = asyncio.Semaphore(concurrency)
        self._loop_task: asyncio.Task[None] | None = None
        self._passes: set[asyncio.Task[None]] = set()
        self._stopped = False

    def __len__(self) -> int:
        return len(self._due) + len(self._running)

    def wake(self, key: str, delay: float = 0.0) -> None:
        """Run ``key`` after ``delay`` seconds, or sooner if it is already due sooner."""
        if key in self._running and delay <= 0:
            self._again.add(key)
            return
        due = asyncio.get_running_loop().time() + max(delay, 0.0)
        current = self._due.get(key)
        if current is not None and current <= due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._order), key))
        if self._heap[0][2] == key and self._waiter is not None:
            _done(self._waiter)

    def drop(self, key: str) -> None:
        """Forget ``key``; a pass already running finishes but is not rescheduled."""
        self._due.pop(key, None)
        self._again.discard(key)
        self._running.discard(key)

    def start(self) -> None:
        if self._loop_task is None and not self._stopped:
            self._loop_task = asyncio.get_running_loop().create_task(self._loop(), name="clockwork-health")
            self._loop_task.add_done_callback(self._ended)

    async def stop(self) -> None:
        self._stopped = True
        tasks = [t for t in (self._loop_task, *self._passes) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # A bug in the loop must not end every object's checks: say so, start again.
        log.error("the health loop failed; restarting it in 1 s", exc_info=task.exception())
        self._loop_task = None
        asyncio.get_running_loop().call_later(1.0, self.start)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while self._heap and self._heap[0][0] <= loop.time():
                due, _, key = heapq.heappop(self._heap)
                if self._due.get(key) != due:
                    continue  # superseded by a later wake, or dropped
                del self._due[key]
                if key in self._running:
                    self._again.add(key)  # never two passes of one key at once
                    continue
                await self._slots.acquire()
                self._running.add(key)
                task = loop.create_task(self._one(key))
                self._passes.add(task)
                task.add_done_callback(self._passes.discard)
            # Sleep until the earliest due time or a wake that comes before it. A bare
            # future and a timer, not asyncio.wait_for: before Python 3.12, wait_for
            # can swallow a cancellation that arrives as its awaitable completes
            # (CPython gh-86296), and stop() would wait forever.
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(self._heap[0][0] - loop.time(), _done, waiter) if self._heap else None
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()

    async def _one(self, key: str) -> None:
        wake: float | None = self.idle
        try:
            wake = await self._run(key)
        except Exception:  # one bad pass must not end the loop
            log.exception("health pass of %s failed", key)
        finally:
            self._slots.release()
        if key not in self._running:
            return  # dropped while it ran
        self._running.discard(key)
        if key in self._again:
            self._again.discard(key)
            self.wake(key)
        else:
            self.wake(key, min(max(wake if wake is not None else self.idle, MIN_DELAY), self.idle))


def _done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
