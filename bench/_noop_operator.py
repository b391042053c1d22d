"""The Clockwork operator with a runner that does nothing (bench/scale_operator.py).

Every operation succeeds unchanged, fact probes find nothing and commands exit 0, so
Files with `present: false` are Ready and healthy: what is measured is the operator
(kopf, reconcile core, status patches, health daemons), not PyInfra.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import kopf
from prometheus_client import start_http_server

from clockwork import metrics
from clockwork.config import Settings
from clockwork.operator import main as operator_main
from clockwork.plan import HostResult, OperationResult, ProbeResult, RunRequest, RunResult


class NoopRunner:
    name = "pyinfra"

    async def run(self, request: RunRequest) -> RunResult:
        return RunResult(
            hosts=[
                HostResult(
                    name=h.name,
                    connected=True,
                    outcome="ok",
                    operations=[OperationResult(id=o.id, success=True, changed=False) for o in request.operations],
                    probes=[
                        ProbeResult(id=p.id, success=True, exit_code=0 if p.kind == "command" else None)
                        for p in request.probes
                    ],
                )
                for h in request.hosts
            ]
        )


def run() -> None:
    settings = Settings.from_env()
    registry, driver, _ = operator_main.build(settings)
    driver.runners["pyinfra"] = NoopRunner()  # type: ignore[assignment]
    start_http_server(settings.metrics_port, addr=settings.metrics_address, registry=metrics.REGISTRY)
    asyncio.run(kopf.operator(registry=registry, standalone=True, clusterwide=True))


if __name__ == "__main__":
    run()
