"""Local mode's driver: resources from YAML, state in SQLite, one reconcile pass each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Literal

from clockwork import deps, metrics, tasks
from clockwork.api.base import ObjectMeta, utcnow
from clockwork.api.common import ResourceStatus, Target
from clockwork.api.edgenode import EdgeNode, EdgeNodeStatus
from clockwork.api.registry import KINDS, KindInfo, kind_info, status_model
from clockwork.completion import context as model_context
from clockwork.completion import guard, pipeline
from clockwork.completion.base import Completer, Completion, CompletionContext, spec_hash
from clockwork.config import Settings
from clockwork.engine import RELATED_LIMIT, DriverBase, Engine, UnavailableRunner
from clockwork.fleet import edgenodes
from clockwork.local import fleet
from clockwork.local.loading import Loaded, dependency_refs
from clockwork.local.outcome import Outcome, verdict
from clockwork.plan import HostSpec
from clockwork.reconcile import Complete, Inputs, Intent
from clockwork.reconcile.conditions import READY
from clockwork.runners.base import Runner
from clockwork.store import LocalStore, StoredResource

LOCAL_HOST = "@local"
# What `clockwork approve` did with one resource.
Approval = Literal["approved", "not-needed", "other", "refused"]
INTENT_DOING: dict[Intent, str] = {"converge": "applying", "plan": "planning", "check": "checking",
                                   "monitor": "checking", "destroy": "destroying"}  # fmt: skip


class LocalDriver(DriverBase):
    def __init__(
        self,
        store: LocalStore,
        settings: Settings,
        runner: Runner | None = None,
        completer: Completer | None = None,
    ) -> None:
        job = UnavailableRunner("job", "runner 'job' needs a Kubernetes cluster; use runner: pyinfra in local mode")
        super().__init__(settings, runner, completer, job)
        self.store = store
        # Everything in this invocation, for the related-resources context of completion.
        self.batch: list[Loaded] = []
        # Whether each resource converged in this invocation is Ready, and what it was
        # completed to (for dependsOn).
        self.ready: dict[str, bool] = {}
        self.completed: dict[str, dict[str, Any]] = {}
        self.asked_ahead: set[str] = set()  # completed before the pass (_complete_ahead)
        # Told what is being done to which resource ("applying File/default/motd"), for a
        # person watching (the CLI's spinner on a terminal); None: nobody is.
        self.progress: Callable[[str], None] | None = None

    def say(self, doing: str, ref: str) -> None:
        if self.progress is not None:
            self.progress(f"{doing} {ref}")

    def _is_ready(self, ref: str) -> bool | None:
        """Ready in this run, else as last applied; None when never applied."""
        if ref in self.ready:
            return self.ready[ref]
        status = self._stored_status(ref)
        if status is None:
            return None
        ready = status.condition(READY)
        return ready is not None and ready.status == "True"

    def _stored_status(self, ref: str) -> ResourceStatus[Any] | None:
        kind, namespace, name = ref.split("/", 2)
        record = self.store.get(kind, namespace, name)
        if record is None or kind not in KINDS:
            return None
        return status_model(KINDS[kind]).model_validate(record.status)

    def _dependencies(self, item: Loaded) -> tuple[str | None, list[dict[str, Any]]]:
        """What of dependsOn is not Ready, and the completed specs of the dependencies."""
        refs = dependency_refs(item)
        if not refs:
            return None, []
        related = []
        for ref in refs:
            completed = self.completed.get(ref)
            if completed is None and (status := self._stored_status(ref)) is not None and status.completed:
                completed = status.completed.wire()
            if completed is not None:
                kind, _, name = ref.split("/", 2)
                related.append(model_context.related(kind, name, completed, dependency=True))
        short = [ref.replace(f"/{item.metadata.namespace}/", "/", 1) for ref in refs]
        waiting = deps.waiting_for(short, {s: self._is_ready(r) for s, r in zip(short, refs, strict=True)})
        return waiting, related

    def _dependents(self, item: Loaded) -> list[str]:
        """Applied resources outside this run whose dependsOn names ``item``."""
        in_run = {other.ref for other in self.batch}
        found = []
        for record in self.store.list():
            ref = f"{record.kind}/{record.namespace}/{record.name}"
            if record.namespace != item.metadata.namespace or ref in in_run or record.kind not in KINDS:
                continue
            spec = KINDS[record.kind].spec_model.model_validate(record.spec)
            if any(d.kind == item.kind and d.name == item.metadata.name for d in spec.depends_on or []):
                found.append(f"{record.kind}/{record.name}")
        return found

    def _related(self, item: Loaded) -> list[dict[str, Any]]:
        """Other resources for the same target in this run, in short, for the completer."""
        target = (item.spec.target or Target(local=True)).summary()
        related = [
            model_context.related(other.kind, other.metadata.name, other.spec.wire())
            for other in self.batch
            if other is not item and other.deployable and (other.spec.target or Target(local=True)).summary() == target
        ]
        return related[:RELATED_LIMIT]

    # --- edge nodes ---------------------------------------------------------------------------

    def nodes(self) -> list[tuple[EdgeNode, EdgeNodeStatus | None]]:
        """Every EdgeNode this run knows: from the files, else as last applied."""
        found: dict[tuple[str, str], tuple[EdgeNode, EdgeNodeStatus | None]] = {}
        for record in self.store.list():
            if record.kind == "EdgeNode":
                node = EdgeNode.model_validate(
                    {"metadata": {"name": record.name, "namespace": record.namespace}, "spec": record.spec}
                )
                found[(record.namespace, record.name)] = (node, EdgeNodeStatus.model_validate(record.status))
        for item in self.batch:
            loaded = item.of(EdgeNode)
            if loaded is not None:
                key = (loaded.metadata.namespace, loaded.metadata.name)
                found[key] = (loaded, found[key][1] if key in found else None)
        return list(found.values())

    def host(self, node: EdgeNode, status: EdgeNodeStatus | None) -> HostSpec | str:
        """How to reach a node from here, or why it cannot be reached in local mode."""
        if node.spec.ssh_key_secret is not None:
            return f"EdgeNode {node.metadata.name}: sshKeySecret needs the operator; set spec.sshKeyFile in local mode"
        if node.spec.ssh_key_file is None:
            return f"EdgeNode {node.metadata.name}: set spec.sshKeyFile (the private key to log in with)"
        return edgenodes.host_spec(node, status, key_file=node.spec.ssh_key_file)

    def _targets(self, item: Loaded) -> tuple[edgenodes.Resolution, dict[str, HostSpec]]:
        return self.targets_for(item.spec.target or Target(local=True), item.metadata)

    def targets_for(self, target: Target, meta: ObjectMeta) -> tuple[edgenodes.Resolution, dict[str, HostSpec]]:
        nodes = self.nodes()
        resolution = edgenodes.resolve_targets(target, meta, nodes)
        # What @local records of what it changes lives beside the local state (not in /var/lib).
        node_state = self.settings.node_state_dir or (self.settings.state_dir / "node")
        inventory: dict[str, HostSpec] = {LOCAL_HOST: HostSpec(name=LOCAL_HOST, state_dir=str(node_state.absolute()))}
        for node, status in nodes:
            if node.metadata.namespace != meta.namespace:
                continue
            self.admit(resolution, inventory, node, self.host(node, status))
        return resolution, inventory

    async def reconcile_all(self, items: list[Loaded], intent: Intent) -> list[Outcome]:
        """Everything in order; Tasks and Workflows last and at once (they share the nodes' slots)."""
        if intent in ("converge", "plan"):
            await self._complete_ahead(items)
        if intent == "plan":
            return [await self.reconcile(item, intent) for item in items]
        outcomes = {item.ref: await self.reconcile(item, intent) for item in items
                    if item.kind not in fleet.SHARE_SLOTS}  # fmt: skip
        work = [item for item in items if item.kind in fleet.SHARE_SLOTS]
        for item, outcome in zip(work, await fleet.run_tasks(self, work, intent), strict=True):
            outcomes[item.ref] = outcome
        return [outcomes[item.ref] for item in items]

    async def _complete_ahead(self, items: list[Loaded]) -> None:
        """Ask at once for the completions this run needs that depend on nothing else, so that a
        model takes them in batches (completion/batch.py); the pass then finds them cached."""
        if not self.settings.model or self.settings.completion_batch_size < 2:
            return
        ahead = [i for i in items if i.deployable and i.kind not in fleet.RUN and not dependency_refs(i)]

        async def one(item: Loaded) -> None:
            spec, info = item.spec.wire(), kind_info(item.kind)
            action, key = Complete(spec, spec_hash(spec)), (item.kind, item.metadata.namespace, item.metadata.name)
            if self.store.get_completion(key, action.spec_hash, self.completer_key(item.spec)) is None:
                outcome = Outcome(ref=item.ref, intent="plan", ok=False, status=status_model(info)())
                await self._complete(info, item, action, outcome, [])
                self.asked_ahead.add(item.ref)

        await asyncio.gather(*(one(item) for item in ahead))

    def _remember_host_keys(self, result: Any) -> None:
        """Host keys a deployable's run learned (trust on first use) go to the node's status."""
        for obs in (result.observations.apply, result.observations.check):
            for host in obs.hosts if obs is not None else []:
                if not host.learned_host_keys:
                    continue
                for record in self.store.list():
                    if record.kind == "EdgeNode" and record.name == host.name:
                        status = EdgeNodeStatus.model_validate(record.status)
                        if status.host_key is None:
                            status.host_key = host.learned_host_keys[0]
                            self.store.put(record.model_copy(update={"status": status.wire()}))

    async def reconcile(self, item: Loaded, intent: Intent) -> Outcome:
        self.say(INTENT_DOING[intent], item.ref)
        if intent == "plan" and not item.deployable:
            return fleet.plan_fleet(self, item)
        run_fleet_kind = fleet.RUN.get(item.kind)
        if run_fleet_kind is not None:
            return await run_fleet_kind(self, item, intent, tasks.Slots())
        started = time.monotonic()
        info = kind_info(item.kind)
        meta = item.metadata
        record = self.store.get(item.kind, meta.namespace, meta.name)
        user_spec = item.spec.wire()
        current_hash = spec_hash(user_spec)
        if record is None:
            generation = 1
            status = status_model(info)()
        else:
            generation = record.generation + (0 if record.spec_hash == current_hash else 1)
            status = status_model(info).model_validate(record.status)
        if record is None and intent in ("check", "destroy", "monitor"):
            return Outcome(
                ref=item.ref,
                intent=intent,
                ok=intent == "destroy",
                status=status,
                message="not applied: nothing to destroy" if intent == "destroy" else "not applied yet",
                known=False,
            )

        if intent == "destroy" and (dependents := self._dependents(item)):
            message = "still needed by " + ", ".join(dependents) + " (destroy those first, or together)"
            return Outcome(ref=item.ref, intent=intent, ok=False, status=status, message=message)
        resolution, inventory = self._targets(item)
        waiting, dependencies = self._dependencies(item) if intent in ("converge", "plan") else (None, [])
        # Only converge and plan take the spec as it is now; the others work on what was applied.
        spec_changes = intent in ("converge", "plan")
        inputs = Inputs(
            info=info,
            ref=item.ref,
            spec=item.spec if spec_changes or record is None else info.spec_model.model_validate(record.spec),
            generation=generation if spec_changes or record is None else record.generation,
            now=utcnow(),
            intent=intent,
            targets=None if resolution.error else resolution.targets,
            target_error=resolution.error,
            skipped=resolution.skipped,
            inventory=inventory,
            always_apply=intent == "converge",
            run_timeout=self.settings.run_timeout,
            connect_timeout=self.settings.connect_timeout,
            completer=self.completer_key(item.spec),
            policy=self.settings.policy,
            approved_hash=self.store.approval((item.kind, meta.namespace, meta.name)),
            default_interval=self.settings.check_interval_default(info),
            waiting_for=waiting,
        )
        outcome = Outcome(ref=item.ref, intent=intent, ok=False, status=status)

        async def complete(action: Complete) -> Completion:
            return await self._complete(info, item, action, outcome, dependencies)

        engine = Engine(self.runners, complete, self.slots, doing=lambda doing: self.say(doing, item.ref))
        result = await engine.run(inputs, status)
        self._remember_host_keys(result)
        final = result.step
        outcome.status, outcome.resolved, outcome.operations = final.status, final.resolved, final.operations
        outcome.events, outcome.wake_after, outcome.notes = final.events, final.wake_after, final.notes
        outcome.changes = final.changes
        outcome.forgotten = result.forgotten
        outcome.apply = result.observations.apply or result.observations.fixapply or result.observations.reapply
        outcome.check = result.observations.fixcheck or result.observations.recheck or result.observations.check
        outcome.destroy = result.observations.destroy
        if intent in ("converge", "plan") and not result.completion_asked and outcome.status.completion:
            outcome.completion_cached = True
            completion = outcome.status.completion
            metrics.COMPLETION_CACHE_HITS.labels(completion.completer, completion.model or "none").inc()

        self._persist(item, record, user_spec, current_hash, generation, outcome)
        outcome.ok, outcome.message = verdict(outcome)
        if intent == "converge":
            self.ready[item.ref] = outcome.ok
        if intent in ("converge", "plan") and outcome.status.completed is not None:
            self.completed[item.ref] = outcome.status.completed.wire()
        conditions: dict[str, str] = {c.type: c.status for c in outcome.status.conditions}
        if outcome.forgotten:
            metrics.forget_resource(item.kind, meta.namespace, meta.name)
        elif intent != "plan":
            metrics.record_pass(
                item.kind, meta.namespace, meta.name, conditions,
                [(e.type, e.reason) for e in final.events], time.monotonic() - started,
                "success" if outcome.ok else "error",
            )  # fmt: skip
        return outcome

    async def _complete(
        self, info: KindInfo, item: Loaded, action: Complete, outcome: Outcome, dependencies: list[dict[str, Any]]
    ) -> Completion:
        """Complete through the local cache: an unchanged spec never asks a completer twice.

        Remediation's re-completion (with diagnostics) always asks, and replaces the
        cached answer.
        """
        completer = self.completer_for(item.spec)
        cid = self.completer_key(item.spec)
        key = (item.kind, item.metadata.namespace, item.metadata.name)
        if action.diagnostics is None:
            cached = self.store.get_completion(key, action.spec_hash, cid)
            if cached is not None:
                completion = Completion.model_validate_json(cached)
                if item.ref in self.asked_ahead:  # asked in this run, before the pass
                    outcome.completion_asked = True
                    return completion
                metrics.COMPLETION_CACHE_HITS.labels(completion.completer, completion.model or "none").inc()
                outcome.completion_cached = True
                return completion
        context = CompletionContext(
            namespace=item.metadata.namespace,
            name=item.metadata.name,
            related=(dependencies + self._related(item))[:RELATED_LIMIT],
            diagnostics=action.diagnostics,
            attempt=action.attempt,
        )
        outcome.completion_asked = True
        completion = await pipeline.complete(info, action.spec, context, completer, identity=action.spec_hash)
        if completion.temporary_error is None:
            self.store.put_completion(key, action.spec_hash, cid, completion.model_dump_json())
        return completion

    def approve(self, item: Loaded, reviewed: str | None) -> tuple[Approval, str]:
        """Approve the current completion of ``item`` (the local clockwork.dev/approve).

        Only a completion that waits for a person is approved (approval: manual, or
        review-tier values a model proposed); with ``reviewed``, only the one whose
        completed hash it is.
        """
        if not item.deployable:
            return "not-needed", "nothing to approve: only completed values wait for approval"
        info = kind_info(item.kind)
        key = (item.kind, item.metadata.namespace, item.metadata.name)
        cached = self.store.get_completion(key, spec_hash(item.spec.wire()), self.completer_key(item.spec))
        if cached is None:
            manual = item.spec.completion is not None and item.spec.completion.approval == "manual"
            completer = self.completer_for(item.spec)
            if manual:
                return "refused", "no completion of the current spec yet: run `clockwork plan` first and review it"
            if completer is None or completer.name != "ai":  # only a model's values can wait for review
                return "not-needed", "needs no approval (approval is not manual, and no model completes it)"
            return "other", "not completed yet (a model will complete it): approve it once `clockwork plan` shows it"
        completion = Completion.model_validate_json(cached)
        current = spec_hash(completion.completed)
        manual = (completion.completed.get("completion") or {}).get("approval") == "manual"  # type: ignore[union-attr]
        from_model = [f.field for f in completion.filled if f.source == "ai"]
        review = guard.review(info.spec_model, completion.completed, from_model, self.settings.policy)
        if not manual and not review:
            return "not-needed", "needs no approval (approval is not manual, and no value a model proposed waits)"
        if reviewed and reviewed != current:
            return "other", f"its completed hash is {current}, not {reviewed}"
        self.store.approve(key, current)
        return "approved", current

    def _persist(
        self,
        item: Loaded,
        record: StoredResource | None,
        user_spec: dict[str, Any],
        current_hash: str,
        generation: int,
        outcome: Outcome,
    ) -> None:
        meta = item.metadata
        if outcome.forgotten:
            self.store.delete(item.kind, meta.namespace, meta.name)
            return
        if outcome.intent == "plan":
            return
        now = utcnow()
        if outcome.intent == "converge" or record is None:
            spec, spec_h, gen = user_spec, current_hash, generation
        else:  # check/monitor/destroy keep the spec that was applied
            spec, spec_h, gen = record.spec, record.spec_hash, record.generation
        self.store.put(
            StoredResource(
                kind=item.kind,
                namespace=meta.namespace,
                name=meta.name,
                generation=gen,
                spec_hash=spec_h,
                spec=spec,
                status=outcome.status.wire(),
                created=record.created if record else now,
                updated=now,
            )
        )
