"""A bare kopf operator on the same CRD: one no-op handler (bench/scale_operator.py's baseline)."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

registry = kopf.OperatorRegistry()


@kopf.on.startup(registry=registry)
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.bench")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="kopf.bench", key="last-handled-configuration"
    )


@kopf.on.login(registry=registry)
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    return kopf.login_via_client(**kwargs)


@kopf.on.resume("clockwork.dev", "v1alpha1", "files", registry=registry)
@kopf.on.create("clockwork.dev", "v1alpha1", "files", registry=registry)
async def handle(**_: Any) -> None:
    return None


if __name__ == "__main__":
    asyncio.run(kopf.operator(registry=registry, standalone=True, clusterwide=True))
