"""The operator's one health loop (clockwork.operator.schedule), on a real event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from clockwork.operator.schedule import HealthScheduler

WAIT = 5.0  # seconds any awaited condition may take


class Recorder:
    """A pass function that records every pass and what it was asked to return."""

    def __init__(self, delay: float | None = 60.0, hold: float = 0.0) -> None:
        self.delay = delay
        self.hold = hold
        self.runs: Counter[str] = Counter()
        self.active: Counter[str] = Counter()
        self.most_at_once = 0
        self.most_of_one_key = 0
        self.fail: set[str] = set()
        self._changed = asyncio.Condition()

    async def __call__(self, key: str) -> float | None:
        self.active[key] += 1
        self.most_at_once = max(self.most_at_once, sum(self.active.values()))
        self.most_of_one_key = max(self.most_of_one_key, self.active[key])
        async with self._changed:
            self._changed.notify_all()
        try:
            await asyncio.sleep(self.hold)
            if key in self.fail:
                raise RuntimeError(f"pass of {key} broke")
            return self.delay
        finally:
            self.active[key] -= 1
            self.runs[key] += 1
            async with self._changed:
                self._changed.notify_all()

    async def until(self, what: Callable[[], bool]) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(what), WAIT)


@contextlib.asynccontextmanager
async def running(
    recorder: Callable[[str], Awaitable[float | None]], idle: float = 300, concurrency: int = 10
) -> AsyncIterator[HealthScheduler]:
    """A started scheduler, stopped at the end whatever happened."""
    scheduler = HealthScheduler(recorder, idle=idle, concurrency=concurrency)
    scheduler.start()
    try:
        yield scheduler
    finally:
        await scheduler.stop()


async def test_a_woken_key_runs_and_runs_again_when_its_pass_says() -> None:
    recorder = Recorder(delay=0.1)
    async with running(recorder) as scheduler:
        scheduler.wake("a")
        await recorder.until(lambda: recorder.runs["a"] >= 3)


async def test_a_long_delay_is_not_run_early_and_the_idle_time_caps_it() -> None:
    recorder = Recorder(delay=3600)
    async with running(recorder, idle=0.2) as scheduler:
        scheduler.wake("a")
        await recorder.until(lambda: recorder.runs["a"] >= 2)  # capped at idle, not an hour
    recorder = Recorder(delay=3600)
    async with running(recorder) as scheduler:
        scheduler.wake("a")
        await recorder.until(lambda: recorder.runs["a"] >= 1)
        await asyncio.sleep(0.3)
        assert recorder.runs["a"] == 1


async def test_a_wake_while_running_runs_once_more_after_never_alongside() -> None:
    recorder = Recorder(delay=3600, hold=0.2)
    async with running(recorder) as scheduler:
        scheduler.wake("a")
        await recorder.until(lambda: recorder.active["a"] == 1)
        for _ in range(5):
            scheduler.wake("a")
            scheduler.wake("a", 0.01)  # a due time reached while it runs
        await asyncio.sleep(0.05)
        await recorder.until(lambda: recorder.runs["a"] >= 2)
        await asyncio.sleep(0.4)
        assert recorder.runs["a"] == 2
        assert recorder.most_of_one_key == 1


async def test_the_earlier_of_two_wakes_wins() -> None:
    recorder = Recorder(delay=3600)
    async with running(recorder) as scheduler:
        scheduler.wake("a", 3600)
        scheduler.wake("a", 0.05)
        scheduler.wake("a", 1800)
        await recorder.until(lambda: recorder.runs["a"] == 1)
        assert len(scheduler) == 1


async def test_a_dropped_key_is_not_run_again() -> None:
    recorder = Recorder(delay=0.05)
    async with running(recorder) as scheduler:
        scheduler.wake("a")
        scheduler.wake("b")
        await recorder.until(lambda: recorder.runs["a"] >= 2)
        scheduler.drop("a")
        after = recorder.runs["a"]
        await recorder.until(lambda: recorder.runs["b"] >= after + 4)
        assert recorder.runs["a"] <= after + 1  # at most the pass already running
        assert len(scheduler) == 1


async def test_no_more_passes_at_once_than_the_concurrency() -> None:
    recorder = Recorder(delay=3600, hold=0.1)
    async with running(recorder, concurrency=3) as scheduler:
        for i in range(12):
            scheduler.wake(f"k{i}")
        await recorder.until(lambda: sum(recorder.runs.values()) == 12)
        assert recorder.most_at_once == 3


async def test_a_failing_pass_is_retried_at_the_idle_time_and_the_others_go_on() -> None:
    recorder = Recorder(delay=0.05)
    recorder.fail.add("bad")
    async with running(recorder, idle=0.3) as scheduler:
        scheduler.wake("bad")
        scheduler.wake("good")
        await recorder.until(lambda: recorder.runs["bad"] >= 2 and recorder.runs["good"] >= 6)
        assert recorder.runs["good"] > recorder.runs["bad"]


async def test_stop_cancels_running_passes() -> None:
    recorder = Recorder(hold=3600)
    async with running(recorder) as scheduler:
        scheduler.wake("a")
        await recorder.until(lambda: recorder.active["a"] == 1)
        await asyncio.wait_for(scheduler.stop(), WAIT)
        assert recorder.active["a"] == 0


@pytest.mark.parametrize("keys", [1000])
async def test_many_keys_each_run_once_per_due_time(keys: int) -> None:
    recorder = Recorder(delay=3600)
    async with running(recorder, concurrency=50) as scheduler:
        for i in range(keys):
            scheduler.wake(f"k{i}", (i % 10) / 100)
        await recorder.until(lambda: sum(recorder.runs.values()) == keys)
        assert set(recorder.runs.values()) == {1}
        assert len(scheduler) == keys
