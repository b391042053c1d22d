"""The operator's driver: a Kubernetes body in, a reconcile pass, status and Events out.

The kopf handlers in :mod:`clockwork.operator.handlers` call these methods and
nothing else; this module decides nothing about *what* to do either — that is
the reconcile core. What lives here is the Kubernetes side: reading bodies,
serialising passes per object, writing status, posting Events, feeding the
health loop.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from clockwork import deps, metrics
from clockwork.api.base import utcnow
from clockwork.api.common import DeployableSpec, ResourceStatus, Target
from clockwork.api.registry import KINDS, KindInfo
from clockwork.completion import context as model_context
from clockwork.completion import pipeline
from clockwork.completion.base import Completer, Completion, CompletionContext
from clockwork.config import Settings
from clockwork.engine import RELATED_LIMIT, DriverBase, Engine, PassResult, UnavailableRunner
from clockwork.errors import describe_validation_error
from clockwork.fleet import edgenodes
from clockwork.operator.fleetwork import FleetWork
from clockwork.operator.nodes import NodeDirectory
from clockwork.operator.schedule import HealthScheduler
from clockwork.operator.status import object_key, read_status, remember, snapshot, status_patch, without_check_time
from clockwork.plan import HostSpec, Origin
from clockwork.reconcile import Complete, Event, Inputs, Intent
from clockwork.reconcile import conditions as cond
from clockwork.runners.base import Runner

APPROVE_ANNOTATION = "clockwork.dev/approve"
log = logging.getLogger("clockwork.operator")

# Posts one Event for a body; the handlers pass kopf.event here.
PostEvent = Callable[[Mapping[str, Any], str, str, str], None]
PatchStatus = Callable[[str, str, str, dict[str, Any]], Awaitable[None]]


class FleetApi(Protocol):
    """The reads the fleet needs from the API (KubeClient has them)."""

    async def list_objects(self, plural: str, namespace: str) -> list[dict[str, Any]]: ...

    async def read_secret(self, namespace: str, name: str, key: str) -> str: ...

    async def create_object(self, plural: str, namespace: str, body: dict[str, Any]) -> bool: ...

    async def delete_object(self, plural: str, namespace: str, name: str) -> None: ...


@dataclass
class ObjectState:
    """Per-object bookkeeping in this operator process."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    poke: asyncio.Event = field(default_factory=asyncio.Event)
    target: str = "local"
    namespace: str = "default"
    kind: str = ""
    name: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    # The status this process last wrote. Bodies (kopf's, the health loop's snapshot) lag behind
    # our own writes; this process is the only writer of status, so it trusts itself.
    status: dict[str, Any] | None = None
    # health.lastCheckTime as last written to the API (checks in between may be
    # kept in memory only: see Settings.status_report_seconds).
    reported_check: datetime | None = None
    # What the health loop checks: the kind and the object as the last converge saw it
    # (metadata and spec; status is ours, above). None while it is being deleted.
    info: KindInfo | None = None
    body: dict[str, Any] | None = None


@dataclass
class Outcome:
    result: PassResult | None
    status: ResourceStatus[Any]
    temporary_error: str | None = None
    # dependsOn not Ready yet (converge only): the handler retries.
    waiting_for: str | None = None


class OperatorDriver(DriverBase):
    def __init__(
        self,
        settings: Settings,
        *,
        post_event: PostEvent,
        patch_status: PatchStatus,
        runner: Runner | None = None,
        completer: Completer | None = None,
        fleet: FleetApi | None = None,
        job: Runner | None = None,
    ) -> None:
        unavailable = UnavailableRunner("job", "runner 'job' needs the operator's Kubernetes API access")
        super().__init__(settings, runner, completer, job or unavailable)
        self.post_event = post_event
        self.patch_status = patch_status
        self.fleet = fleet
        self.objects: dict[str, ObjectState] = {}
        # The fleet's EdgeNodes: listing, reaching, heartbeats.
        self.nodes = NodeDirectory(self)
        # Tasks, Workflows and Rollouts: started by their handlers, run in the background.
        self.work = FleetWork(self)
        # With peering: whether this replica works now (operator.peering.PeeringGate); a paused
        # replica's health loop checks nothing, the working one does.
        self.working: Callable[[], Awaitable[bool]] | None = None
        self.health = HealthScheduler(
            self._health_pass, idle=float(settings.health_idle_seconds), concurrency=settings.health_concurrency
        )

    def start(self) -> None:
        """Start the health loop (in the operator's event loop)."""
        self.health.start()

    async def aclose(self) -> None:
        await self.work.aclose()
        await self.health.stop()
        await super().aclose()

    def _uid(self, body: Mapping[str, Any]) -> str:
        return str(body.get("metadata", {}).get("uid") or object_key(body))

    def state(self, body: Mapping[str, Any]) -> ObjectState:
        uid = self._uid(body)
        if uid not in self.objects:
            self.objects[uid] = ObjectState()
        return self.objects[uid]

    def forget(self, body: Mapping[str, Any]) -> None:
        uid = self._uid(body)
        self.objects.pop(uid, None)
        self.health.drop(uid)

    # --- the three entry points ------------------------------------------------------------

    async def converge(self, info: KindInfo, body: Mapping[str, Any]) -> Outcome:
        """create/update/resume: complete if the spec changed, apply if the plan changed, check."""
        state = self.state(body)
        due: float | None = 0.0
        try:
            async with state.lock:
                outcome = await self._pass(info, body, "converge")
            # No result: the spec is invalid, and nothing is checked until it changes.
            due = None if outcome.result is None else (outcome.result.step.wake_after or 0.0)
            return outcome
        finally:
            # The health loop checks this object from now on, from when this pass
            # says the next check is due (at once if it could not say).
            state.info, state.body = info, snapshot(body)
            if state.status is None and body.get("status"):
                state.status = copy.deepcopy(dict(body["status"]))  # nothing written: the API's is ours
            if due is None:
                self.health.drop(self._uid(body))
            else:
                self.health.wake(self._uid(body), due)

    async def monitor(self, info: KindInfo, body: Mapping[str, Any]) -> Outcome:
        state = self.state(body)
        async with state.lock:
            return await self._pass(info, body, "monitor")

    async def destroy(self, info: KindInfo, body: Mapping[str, Any]) -> Outcome:
        state = self.state(body)
        state.body = None  # no more health checks
        self.health.drop(self._uid(body))
        async with state.lock:
            outcome = await self._pass(info, body, "destroy")
        if outcome.result is not None and outcome.result.forgotten:
            meta = body.get("metadata", {})
            metrics.forget_resource(info.kind, meta.get("namespace", "default"), meta.get("name", ""))
            self.forget(body)
        return outcome

    async def _health_pass(self, uid: str) -> float | None:
        """One pass of the health loop: seconds until this object wants the next."""
        state = self.objects.get(uid)
        if state is None or state.body is None or state.info is None:
            return None
        if self.working is not None and not await self.working():
            log.debug("health pass of %s skipped: another replica works (peering)", object_key(state.body))
            return float(self.settings.peering_lifetime)
        try:
            outcome = await self.monitor(state.info, state.body)
        except Exception:  # one bad pass must not end the object's checks
            log.exception("health pass of %s failed", object_key(state.body))
            return None
        return outcome.result.step.wake_after if outcome.result else None

    # --- one pass --------------------------------------------------------------------------

    async def _pass(self, info: KindInfo, body: Mapping[str, Any], intent: Intent) -> Outcome:
        started = time.monotonic()
        meta = body.get("metadata", {})
        namespace, name = meta.get("namespace", "default"), meta.get("name", "")
        state = self.state(body)
        previous = dict(state.status if state.status is not None else (body.get("status") or {}))
        status = read_status(info, previous)
        try:
            spec = info.spec_model.model_validate(body.get("spec") or {}, by_alias=True, by_name=False)
        except ValidationError as exc:
            # The CRD schema lets through what only the models can judge (a '..' in a path).
            return await self._invalid(info, body, status, previous, exc, started)

        state.target = (spec.target or Target(local=True)).summary()
        state.namespace, state.kind, state.name = namespace, info.kind, name
        state.spec = spec.wire()
        resolution, inventory = await self._targets(spec, meta)
        waiting, dependencies = (None, []) if intent != "converge" else await self._dependencies(spec, namespace)
        completer = self.completer_for(spec)
        inputs = Inputs(
            info=info,
            spec=spec,
            ref=f"{info.kind}/{namespace}/{name}",
            generation=int(meta.get("generation") or 1),
            now=utcnow(),
            intent=intent,
            targets=None if resolution.error else resolution.targets,
            target_error=resolution.error,
            skipped=resolution.skipped,
            inventory=inventory,
            always_apply=False,
            run_timeout=self.settings.run_timeout,
            connect_timeout=self.settings.connect_timeout,
            completer=self.completer_key(spec),
            policy=self.settings.policy,
            approved_hash=(meta.get("annotations") or {}).get(APPROVE_ANNOTATION),
            default_interval=self.settings.check_interval_default(info),
            waiting_for=waiting,
        )

        async def complete(action: Complete) -> Completion:
            context = CompletionContext(
                namespace=namespace,
                name=name,
                related=(dependencies + self._related(body, state))[:RELATED_LIMIT],
                diagnostics=action.diagnostics,
                attempt=action.attempt,
            )
            return await pipeline.complete(info, action.spec, context, completer, identity=action.spec_hash)

        metrics.IN_FLIGHT.labels(info.kind).inc()
        try:
            origin = Origin(namespace=namespace, kind=info.kind, name=name, uid=meta.get("uid"))
            result = await Engine(self.runners, complete, self.slots, origin).run(inputs, status)
        except Exception:
            metrics.RECONCILE_TOTAL.labels(info.kind, "error").inc()
            raise
        finally:
            metrics.IN_FLIGHT.labels(info.kind).dec()
        await self.nodes.remember_host_keys(namespace, result)
        final = result.step
        temporary = None
        if result.observations.completion is not None:
            temporary = result.observations.completion.temporary_error
        before, after = status.wire(), final.status.wire()
        if not result.forgotten and after != before:
            if intent == "monitor" and self._quiet_check(state, before, after, final.status):
                remember(state, status_patch(final.status, previous))
            else:
                await self._write(info, body, final.status, previous)
        self._post(body, final.events)
        conditions: dict[str, str] = {c.type: c.status for c in final.status.conditions}
        outcome_label = "requeue" if temporary else ("success" if conditions.get("Ready") == "True" else "error")
        if not result.forgotten:
            metrics.record_pass(
                info.kind, namespace, name, conditions, [(e.type, e.reason) for e in final.events],
                time.monotonic() - started, outcome_label,
            )  # fmt: skip
        return Outcome(result, final.status, temporary, waiting)

    async def _invalid(
        self,
        info: KindInfo,
        body: Mapping[str, Any],
        status: ResourceStatus[Any],
        previous: dict[str, Any],
        exc: ValidationError,
        started: float,
    ) -> Outcome:
        meta = body.get("metadata", {})
        message = "; ".join(describe_validation_error(exc, "spec"))
        generation = int(meta.get("generation") or 1)
        now = utcnow()
        status.observed_generation = generation
        for type_ in (cond.COMPLETED, cond.READY):
            status.conditions = cond.set_condition(
                status.conditions, type_, "False", "Invalid", message, generation=generation, now=now
            )
        namespace, name = meta.get("namespace", "default"), meta.get("name", "")
        await self._write(info, body, status, previous)
        self._post(body, [Event("Warning", "Invalid", message)])
        conditions: dict[str, str] = {c.type: c.status for c in status.conditions}
        metrics.record_pass(info.kind, namespace, name, conditions, [("Warning", "Invalid")],
                            time.monotonic() - started, "error")  # fmt: skip
        return Outcome(None, status)

    async def _write(
        self, info: KindInfo, body: Mapping[str, Any], status: ResourceStatus[Any], previous: dict[str, Any]
    ) -> None:
        meta = body.get("metadata", {})
        patch = status_patch(status, previous)
        await self.patch_status(info.plural, meta.get("namespace", "default"), meta.get("name", ""), patch)
        state = self.state(body)
        remember(state, patch)
        state.reported_check = status.health.last_check_time if status.health else None

    def _quiet_check(
        self, state: ObjectState, before: dict[str, Any], after: dict[str, Any], status: ResourceStatus[Any]
    ) -> bool:
        """True when a check changed only its own time (wire forms ``before`` and ``after``)
        and the time last written is recent enough."""
        every = self.settings.status_report_seconds
        checked = status.health.last_check_time if status.health else None
        if not every or state.reported_check is None or checked is None:
            return False
        same = without_check_time(before) == without_check_time(after)
        return same and (checked - state.reported_check).total_seconds() < every

    def _post(self, body: Mapping[str, Any], events: list[Event]) -> None:
        for event in events:
            try:
                self.post_event(body, event.type, event.reason, event.message)
            except Exception:  # Events are best effort; status already says it all
                log.warning("could not post event %s for %s", event.reason, object_key(body), exc_info=True)

    # --- the fleet ------------------------------------------------------------------------

    async def _targets(
        self, spec: DeployableSpec, meta: Mapping[str, Any]
    ) -> tuple[edgenodes.Resolution, dict[str, HostSpec]]:
        return await self.nodes.resolve(spec.target or Target(local=True), meta)

    async def _dependencies(self, spec: DeployableSpec, namespace: str) -> tuple[str | None, list[dict[str, Any]]]:
        """What of ``dependsOn`` is not Ready, and the completed specs of those that are."""
        wanted = spec.depends_on or []
        if not wanted or self.fleet is None:
            return None, []
        ready: dict[str, bool | None] = {}
        related: list[dict[str, Any]] = []
        listed: dict[str, dict[str, dict[str, Any]]] = {}
        for dep in wanted:
            plural = KINDS[dep.kind].plural
            if plural not in listed:
                items = await self.fleet.list_objects(plural, namespace)
                listed[plural] = {str(b.get("metadata", {}).get("name")): b for b in items}
            body = listed[plural].get(dep.name)
            if body is None or body.get("metadata", {}).get("deletionTimestamp"):
                ready[dep.ref] = None
                continue
            status = body.get("status") or {}
            conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
            ready[dep.ref] = conditions.get(cond.READY) == "True"
            if status.get("completed"):
                related.append(model_context.related(dep.kind, dep.name, status["completed"], dependency=True))
        return deps.waiting_for([d.ref for d in wanted], ready), related

    async def dependents(self, kind: str, body: Mapping[str, Any]) -> list[str]:
        """Objects of the namespace whose dependsOn names this one (destroyed first)."""
        if self.fleet is None:
            return []
        meta = body.get("metadata", {})
        namespace, name = meta.get("namespace", "default"), meta.get("name", "")
        found = []
        for info in KINDS.values():
            for other in await self.fleet.list_objects(info.plural, namespace):
                for dep in (other.get("spec") or {}).get("dependsOn") or []:
                    if dep.get("kind") == kind and dep.get("name") == name:
                        found.append(f"{info.kind}/{other.get('metadata', {}).get('name')}")
        return found

    def _related(self, body: Mapping[str, Any], state: ObjectState) -> list[dict[str, Any]]:
        """Other objects this operator knows with the same target, in short."""
        # At most 20, found lazily: with 10,000 objects, summarising all of them for
        # every completion made each pass O(objects).
        others = (o for o in self.objects.values() if o is not state and o.target == state.target and o.spec)
        return [
            model_context.related(other.kind, other.name, other.spec)
            for other in itertools.islice(others, RELATED_LIMIT)
        ]
