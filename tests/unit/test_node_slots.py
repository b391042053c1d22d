"""Per-node run limits across resources (maxConcurrentRuns)."""

from __future__ import annotations

import asyncio

from clockwork.engine import NodeSlots


def test_runs_on_a_node_never_exceed_its_limit_and_multi_node_runs_do_not_deadlock() -> None:
    slots = NodeSlots(default=2)
    slots.set_limit("pi-1", 1)
    running: dict[str, int] = {"pi-1": 0, "pi-2": 0, "@local": 0}
    peak: dict[str, int] = {"pi-1": 0, "pi-2": 0, "@local": 0}

    async def run(nodes: list[str]) -> None:
        async with slots.hold(nodes):
            for n in nodes:
                running[n] += 1
                peak[n] = max(peak[n], running[n])
            await asyncio.sleep(0.01)
            for n in nodes:
                running[n] -= 1

    async def main() -> None:
        jobs = [run(["pi-1", "pi-2"]), run(["pi-2", "pi-1"]), run(["pi-2"]), run(["pi-2"]), run(["@local"])]
        await asyncio.wait_for(asyncio.gather(*jobs), timeout=5)

    asyncio.run(main())
    assert peak == {"pi-1": 1, "pi-2": 2, "@local": 1}
