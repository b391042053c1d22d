"""`clockwork operator`: configure kopf, serve metrics, start the handlers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from typing import Any

import kopf
from prometheus_client import start_http_server

from clockwork import metrics
from clockwork.config import Settings
from clockwork.errors import PermanentError
from clockwork.operator import handlers
from clockwork.operator.driver import OperatorDriver
from clockwork.operator.events import EventPoster
from clockwork.operator.kube import KubeClient
from clockwork.operator.peering import PeeringGate, identity
from clockwork.runners.job import JobOptions, JobRunner

FINALIZER = "clockwork.dev/finalizer"
KOPF_PREFIX = "kopf.clockwork.dev"
WORKER_IDLE_SECONDS = 0.5
log = logging.getLogger("clockwork.operator")


def build(settings: Settings) -> tuple[kopf.OperatorRegistry, OperatorDriver, KubeClient]:
    registry = kopf.OperatorRegistry()
    kube = KubeClient.from_environment()

    # Our own Event poster, not kopf.event(): that works only inside kopf's per-object
    # tasks, and the health loop runs outside them.
    events = EventPoster(kube.create_event)
    job = JobRunner(
        kube,
        JobOptions(
            image=settings.job_image, service_account=settings.job_service_account, ttl_seconds=settings.job_ttl
        ),
    )
    driver = OperatorDriver(settings, post_event=events.post, patch_status=kube.patch_status, fleet=kube, job=job)

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure_kopf(settings, driver.settings)
        if driver.settings.peering:
            # kopf waits for the object (and pauses until it exists): make sure there is one.
            try:
                await kube.ensure_cluster_peering(driver.settings.peering)
            except PermanentError as exc:  # no CRD: kopf would retry this handler for ever
                raise kopf.PermanentError(str(exc)) from exc
        events.start()
        driver.start()  # the health loop of every object (driver.health)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # In-cluster service account, else $KUBECONFIG, as the kubernetes client reads them.
        return kopf.login_via_client(**kwargs)

    @kopf.on.cleanup(registry=registry)
    async def close(**_: Any) -> None:
        await driver.aclose()
        await events.stop()
        kube.close()

    handlers.register(registry, driver)
    return registry, driver, kube


def configure_kopf(kopf_settings: kopf.OperatorSettings, settings: Settings) -> None:
    # Our own finalizer name, and kopf's bookkeeping in annotations: a real API
    # server prunes undeclared status fields, annotations survive. kopf ignores
    # changes to annotations under its own prefix, so it must not be clockwork.dev
    # (clockwork.dev/approve is a change the operator has to see).
    kopf_settings.persistence.finalizer = FINALIZER
    kopf_settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    kopf_settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_PREFIX, key="last-handled-configuration"
    )
    kopf_settings.watching.inactivity_timeout = settings.watch_timeout
    kopf_settings.watching.server_timeout = max(10, settings.watch_timeout - 30)
    kopf_settings.queueing.worker_limit = settings.worker_limit
    # kopf keeps an object's worker (and its worker_limit slot) for idle_timeout after
    # the object's last event (5 s by default): with 20 slots that capped a burst of new
    # objects at 4 a second (bench/scale_operator.py). Half a second keeps the batching
    # of quick successive events and frees the slot.
    kopf_settings.queueing.idle_timeout = WORKER_IDLE_SECONDS
    kopf_settings.posting.level = logging.INFO
    if settings.peering:
        # One ClusterKopfPeering for every replica, also when they watch some namespaces only:
        # the replicas of one installation are one neighbourhood whatever they watch.
        kopf_settings.peering.clusterwide = True
        kopf_settings.peering.lifetime = settings.peering_lifetime
        kopf_settings.peering.stealth = True  # keep-alives unlogged (pauses and resumes are logged)


def peering_priority(settings: Settings, started_ns: int) -> int:
    """This replica's kopf priority: CW_PEERING_PRIORITY, else the earlier start the higher.

    kopf pauses every replica that sees a live one of higher priority, and all of them when
    two share the highest: by start time (in microseconds), a replica that starts later waits
    for the running one instead of taking over from it, and two never tie in practice.
    """
    if settings.peering_priority is not None:
        return settings.peering_priority
    return -(started_ns // 1000)


def run(settings: Settings, namespaces: Collection[str] = ()) -> None:
    """Run until stopped; cluster-wide unless namespaces are given."""
    registry, driver, kube = build(settings)
    peering: dict[str, Any] = {"standalone": True}
    if settings.peering:
        name = settings.peering
        me, priority = identity(), peering_priority(settings, time.time_ns())
        # kopf's record of this replica and the health loop's gate go by the same name
        peering = {"peering_name": name, "priority": priority, "identity": me}  # mandatory peering
        driver.working = PeeringGate(lambda: kube.read_cluster_peering(name), me, priority).working
        log.info(
            "peering in ClusterKopfPeering %s as %s with priority %d (lifetime %ds): working while no live "
            "replica has a higher one",
            name, me, priority, settings.peering_lifetime,
        )  # fmt: skip
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_address, registry=metrics.REGISTRY)
        log.info("metrics on %s:%s/metrics", settings.metrics_address, settings.metrics_port)
    liveness = f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None
    asyncio.run(
        kopf.operator(
            registry=registry,
            **peering,
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            liveness_endpoint=liveness,
        )
    )
