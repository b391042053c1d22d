"""The one interface every runner implements."""

from __future__ import annotations

from typing import Protocol

from clockwork.plan import RunRequest, RunResult


class Runner(Protocol):
    """Executes a plan on its hosts. Never raises for a host's failure: that is a result."""

    name: str

    async def run(self, request: RunRequest) -> RunResult: ...
