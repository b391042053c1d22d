"""Local mode: the second driver of the reconcile core, without a cluster.

Reads resources from YAML files, keeps their status in the SQLite store and runs
plans on this machine (``@local``). The kopf operator drives the same
:func:`clockwork.reconcile.step`; nothing here decides *what* to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from clockwork import deps, inputs, metrics, rollouts, tasks, workflows
from clockwork.api.base import ObjectMeta, utcnow
from clockwork.api.common import DeployableSpec, ResolvedCommon, Resource, ResourceStatus, Target
from clockwork.api.edgenode import EdgeNode, EdgeNodeStatus
from clockwork.api.registry import FLEET_KINDS, KINDS, KindInfo, kind_info, parse_resource, status_model
from clockwork.api.rollout import Rollout, RolloutStatus
from clockwork.api.task import Task, TaskStatus
from clockwork.api.workflow import Workflow, WorkflowStatus, WorkflowStep
from clockwork.completion import context as model_context
from clockwork.completion import guard, pipeline
from clockwork.completion.base import Completer, Completion, CompletionContext, spec_hash
from clockwork.config import Settings
from clockwork.diff import Change
from clockwork.engine import DriverBase, Engine, UnavailableRunner
from clockwork.errors import InvalidResource
from clockwork.fleet import edgenodes
from clockwork.plan import HostSpec, Operation, RunResult
from clockwork.reconcile import Complete, Event, Inputs, Intent
from clockwork.reconcile.conditions import COMPLETED, HEALTHY, READY
from clockwork.runners.base import Runner
from clockwork.store import LocalStore, StoredResource

LOCAL_HOST = "@local"
# What `clockwork approve` did with one resource.
Approval = Literal["approved", "not-needed", "other", "refused"]
YAML_SUFFIXES = (".yaml", ".yml", ".json")
INTENT_DOING: dict[Intent, str] = {"converge": "applying", "plan": "planning", "check": "checking",
                                   "monitor": "checking", "destroy": "destroying"}  # fmt: skip


@dataclass(frozen=True)
class Loaded:
    resource: Resource
    source: str

    @property
    def kind(self) -> str:
        return self.resource.kind

    @property
    def metadata(self) -> ObjectMeta:
        return self.resource.metadata

    @property
    def spec(self) -> DeployableSpec:
        """The spec of a deployable kind (EdgeNodes are handled apart, see ``edge_node``)."""
        spec = self.resource.spec
        if not isinstance(spec, DeployableSpec):
            raise TypeError(f"{self.ref} is not deployable")
        return spec

    @property
    def deployable(self) -> bool:
        return isinstance(self.resource.spec, DeployableSpec)

    @property
    def task(self) -> Task | None:
        return self.resource if isinstance(self.resource, Task) else None

    @property
    def workflow(self) -> Workflow | None:
        return self.resource if isinstance(self.resource, Workflow) else None

    @property
    def rollout(self) -> Rollout | None:
        return self.resource if isinstance(self.resource, Rollout) else None

    @property
    def edge_node(self) -> EdgeNode | None:
        return self.resource if isinstance(self.resource, EdgeNode) else None

    @property
    def ref(self) -> str:
        return self.resource.ref


def _files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and p.suffix in YAML_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise InvalidResource("input", [f"{path}: no such file or directory"])
    return found


def load(paths: Iterable[Path], limits: inputs.Limits | None = None) -> list[Loaded]:
    """Every resource in the files; all problems of all documents in one error."""
    loaded: list[Loaded] = []
    problems: list[str] = []
    for path in _files(paths):
        try:
            documents = inputs.read_documents(path, limits or inputs.Limits())
        except inputs.InputError as exc:
            problems.append(str(exc))
            continue
        for index, doc in enumerate(documents):
            if doc is None:
                continue
            source = f"{path}#{index + 1}" if len(documents) > 1 else str(path)
            try:
                loaded.append(Loaded(parse_resource(doc, source=source), source))
            except InvalidResource as exc:
                problems.append(str(exc))
    seen: dict[str, str] = {}
    for item in loaded:
        if item.ref in seen:
            problems.append(f"{item.source}: {item.ref} is also declared in {seen[item.ref]}")
        seen[item.ref] = item.source
    if problems:
        raise InvalidResource("input", problems)
    if not loaded:
        raise InvalidResource("input", ["no resources found in the given files"])
    # Nodes first: what deploys to them needs them probed (and their host keys known);
    # then every dependency (dependsOn) before what depends on it.
    by_ref = {item.ref: item for item in loaded}
    try:
        ordered = deps.order(
            [item.ref for item in sorted(loaded, key=lambda i: (i.edge_node is None, not i.deployable))],
            {item.ref: dependency_refs(item) for item in loaded},
        )
    except deps.DependencyCycle as exc:
        first = by_ref[exc.cycle[0]]
        raise InvalidResource("input", [f"{first.source}: {exc}"]) from None
    return [by_ref[ref] for ref in ordered]


def dependency_refs(item: Loaded) -> list[str]:
    """``Kind/namespace/name`` of each dependsOn entry of a deployable (same namespace)."""
    if not item.deployable:
        return []
    namespace = item.metadata.namespace
    return [f"{d.kind}/{namespace}/{d.name}" for d in item.spec.depends_on or []]


def unknown_dependencies(items: list[Loaded], store: LocalStore) -> list[str]:
    """dependsOn entries naming a resource that is neither in these files nor applied here.

    Waiting for such a dependency would never end; it is a typo or a missing file,
    so it is bad input, said before anything runs.
    """
    given = {item.ref for item in items}
    problems = []
    for item in (i for i in items if i.deployable):
        namespace = item.metadata.namespace
        for index, dep in enumerate(item.spec.depends_on or []):
            if f"{dep.kind}/{namespace}/{dep.name}" in given or store.get(dep.kind, namespace, dep.name):
                continue
            problems.append(
                f"{item.source}: {item.ref}: spec.dependsOn[{index}]: {dep.kind}/{dep.name} is not in the given "
                "files and was never applied here (add its file with -f, or fix the kind and name)"
            )
    return problems


@dataclass
class Outcome:
    ref: str
    intent: Intent
    ok: bool
    status: Any  # ResourceStatus of a deployable kind, or EdgeNodeStatus
    message: str = ""
    resolved: ResolvedCommon | None = None
    operations: list[Operation] = field(default_factory=list)
    apply: RunResult | None = None
    check: RunResult | None = None
    destroy: RunResult | None = None
    forgotten: bool = False
    known: bool = True
    # Completion this run: asked a completer, or answered from the cache.
    completion_asked: bool = False
    completion_cached: bool = False
    events: list[Event] = field(default_factory=list)
    wake_after: float | None = None
    # plan: what applying would do on each node, in words.
    notes: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        runs = [r for r in (self.apply, self.destroy) if r is not None]
        return any(h.changed for r in runs for h in r.hosts)


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
        # Told what is being done to which resource ("applying File/default/motd"), for a
        # person watching (the CLI's spinner on a terminal); None: nobody is.
        self.progress: Callable[[str], None] | None = None

    def _say(self, doing: str, ref: str) -> None:
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
        return related[:20]

    # --- edge nodes ---------------------------------------------------------------------------

    def _nodes(self) -> list[tuple[EdgeNode, EdgeNodeStatus | None]]:
        """Every EdgeNode this run knows: from the files, else as last applied."""
        found: dict[tuple[str, str], tuple[EdgeNode, EdgeNodeStatus | None]] = {}
        for record in self.store.list():
            if record.kind == "EdgeNode":
                node = EdgeNode.model_validate(
                    {"metadata": {"name": record.name, "namespace": record.namespace}, "spec": record.spec}
                )
                found[(record.namespace, record.name)] = (node, EdgeNodeStatus.model_validate(record.status))
        for item in self.batch:
            loaded = item.edge_node
            if loaded is not None:
                key = (loaded.metadata.namespace, loaded.metadata.name)
                found[key] = (loaded, found[key][1] if key in found else None)
        return list(found.values())

    def _host(self, node: EdgeNode, status: EdgeNodeStatus | None) -> HostSpec | str:
        """How to reach a node from here, or why it cannot be reached in local mode."""
        if node.spec.ssh_key_secret is not None:
            return f"EdgeNode {node.metadata.name}: sshKeySecret needs the operator; set spec.sshKeyFile in local mode"
        if node.spec.ssh_key_file is None:
            return f"EdgeNode {node.metadata.name}: set spec.sshKeyFile (the private key to log in with)"
        return edgenodes.host_spec(node, status, key_file=node.spec.ssh_key_file)

    def _targets(self, item: Loaded) -> tuple[edgenodes.Resolution, dict[str, HostSpec]]:
        return self._targets_for(item.spec.target or Target(local=True), item.metadata)

    def _targets_for(self, target: Target, meta: ObjectMeta) -> tuple[edgenodes.Resolution, dict[str, HostSpec]]:
        nodes = self._nodes()
        resolution = edgenodes.resolve_targets(target, meta, nodes)
        # What @local records of what it changes lives beside the local state (not in /var/lib).
        node_state = self.settings.node_state_dir or (self.settings.state_dir / "node")
        inventory: dict[str, HostSpec] = {LOCAL_HOST: HostSpec(name=LOCAL_HOST, state_dir=str(node_state.absolute()))}
        for node, status in nodes:
            if node.metadata.namespace != meta.namespace:
                continue
            self.slots.set_limit(node.metadata.name, node.spec.effective_max_runs)
            host = self._host(node, status)
            if isinstance(host, str):
                if node.metadata.name in resolution.targets:
                    resolution.targets.remove(node.metadata.name)
                    resolution.skipped[node.metadata.name] = host
            else:
                inventory[node.metadata.name] = host
        return resolution, inventory

    async def _probe_node(self, item: Loaded, intent: Intent) -> Outcome:
        node = item.edge_node
        assert node is not None
        meta = node.metadata
        record = self.store.get(item.kind, meta.namespace, meta.name)
        if intent == "destroy" or (intent in ("check", "monitor") and record is None):
            if record is not None:
                self.store.delete(item.kind, meta.namespace, meta.name)
            known = record is not None
            message = "forgotten" if known else "not applied yet"
            return Outcome(ref=item.ref, intent=intent, ok=intent == "destroy", status=EdgeNodeStatus(),
                           message=message, forgotten=known, known=known)  # fmt: skip
        spec_wire = node.spec.wire()
        current_hash = spec_hash(spec_wire)
        status = EdgeNodeStatus.model_validate(record.status) if record else None
        if record is not None and record.spec_hash != current_hash and status is not None:
            status.host_key = None if node.spec.host_key and node.spec.host_key.known_hosts else status.host_key
        now = utcnow()
        if intent == "monitor" and status is not None and status.last_probe_time is not None:
            due = status.last_probe_time.timestamp() + node.spec.effective_heartbeat
            if now.timestamp() < due:
                return Outcome(ref=item.ref, intent=intent, ok=status.phase == "Online", status=status,
                               message=status.message, wake_after=due - now.timestamp())  # fmt: skip
        if intent == "plan":
            return Outcome(ref=item.ref, intent=intent, ok=True, status=status or EdgeNodeStatus(), message="")
        host = self._host(node, status)
        if isinstance(host, str):
            beat = edgenodes.next_status(node, status, None, now, error=host)
        else:
            result = await self.runners["pyinfra"].run(edgenodes.probe_request(node, host))
            beat = edgenodes.next_status(node, status, result, now)
        self.store.put(
            StoredResource(
                kind=item.kind, namespace=meta.namespace, name=meta.name,
                generation=(record.generation + (record.spec_hash != current_hash)) if record else 1,
                spec_hash=current_hash, spec=spec_wire, status=beat.status.wire(),
                created=record.created if record else now, updated=now,
            )
        )  # fmt: skip
        ok = beat.status.phase == "Online"
        return Outcome(ref=item.ref, intent=intent, ok=ok, status=beat.status, message=beat.status.message,
                       events=beat.events, wake_after=float(node.spec.effective_heartbeat))  # fmt: skip

    async def reconcile_all(self, items: list[Loaded], intent: Intent) -> list[Outcome]:
        """Everything in order; Tasks and Workflows last and at once (they share the nodes' slots)."""
        if intent == "plan":
            return [await self.reconcile(item, intent) for item in items]
        outcomes = {item.ref: await self.reconcile(item, intent) for item in items
                    if item.task is None and item.workflow is None}  # fmt: skip
        work = [item for item in items if item.task is not None or item.workflow is not None]
        for item, outcome in zip(work, await self._tasks(work, intent), strict=True):
            outcomes[item.ref] = outcome
        return [outcomes[item.ref] for item in items]

    async def _tasks(self, items: list[Loaded], intent: Intent) -> list[Outcome]:
        """Tasks and Workflows at once, sharing the nodes' slots."""
        slots = tasks.Slots()

        async def one(item: Loaded) -> Outcome:
            if item.workflow is not None:
                return await self._workflow(item, item.workflow, intent, slots)
            return await self._task(item, intent, slots)

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def _workflow(self, item: Loaded, workflow: Workflow, intent: Intent, slots: tasks.Slots) -> Outcome:
        meta = workflow.metadata
        record = self.store.get(item.kind, meta.namespace, meta.name)
        spec_wire = workflow.spec.wire()
        current_hash = spec_hash(spec_wire)
        status = WorkflowStatus.model_validate(record.status) if record else WorkflowStatus()
        created = record.created if record else utcnow()
        steps = {workflows.task_name(workflow, s): s for s in workflow.spec.steps}

        def step_item(name: str) -> Loaded:
            task = Task(metadata=ObjectMeta(name=name, namespace=meta.namespace), spec=steps[name].task)
            return Loaded(task, item.source)

        if intent == "destroy":
            for name in steps:
                self.store.delete("Task", meta.namespace, name)
            if record is not None:
                self.store.delete(item.kind, meta.namespace, meta.name)
            return Outcome(ref=item.ref, intent=intent, ok=True, status=status, forgotten=record is not None,
                           known=record is not None, message="forgotten")  # fmt: skip
        done = status.phase in ("Succeeded", "Failed") and record is not None and record.spec_hash == current_hash
        if intent != "converge" or done:
            return Outcome(ref=item.ref, intent=intent, ok=status.phase == "Succeeded", status=status,
                           message=status.message)  # fmt: skip
        if record is not None and record.spec_hash != current_hash:
            status = WorkflowStatus()
            for name in steps:
                self.store.delete("Task", meta.namespace, name)
        finished: dict[str, TaskStatus] = {}
        started: list[asyncio.Task[None]] = []

        async def run_step(step: WorkflowStep) -> None:
            name = workflows.task_name(workflow, step)
            outcome = await self._task(step_item(name), "converge", slots)
            result = outcome.status
            if result.phase == "Pending":  # nothing in this run can take it: the step fails with why
                result = result.model_copy(update={"phase": "Failed", "message": f"not scheduled: {result.message}"})
            finished[step.name] = result

        async def start(step: WorkflowStep) -> None:
            started.append(asyncio.ensure_future(run_step(step)))

        async def poll() -> dict[str, TaskStatus]:
            return dict(finished)

        async def save(current: WorkflowStatus) -> None:
            self.store.put(
                StoredResource(kind=item.kind, namespace=meta.namespace, name=meta.name, generation=1,
                               spec_hash=current_hash, spec=spec_wire, status=current.wire(), created=created,
                               updated=utcnow())
            )  # fmt: skip

        try:
            final = await workflows.run(workflow, status, workflows.WorkflowRun(start, poll, save, every=0.2))
        finally:
            for pending in started:
                if not pending.done():
                    pending.cancel()
        return Outcome(ref=item.ref, intent=intent, ok=final.phase == "Succeeded", status=final,
                       message=final.message)  # fmt: skip

    async def _task(self, item: Loaded, intent: Intent, slots: tasks.Slots) -> Outcome:
        task = item.task
        assert task is not None
        meta = task.metadata
        record = self.store.get(item.kind, meta.namespace, meta.name)
        spec_wire = task.spec.wire()
        current_hash = spec_hash(spec_wire)
        status = TaskStatus.model_validate(record.status) if record else TaskStatus()
        created = record.created if record else utcnow()
        uid = f"{meta.namespace}-{meta.name}-{current_hash[:8]}"

        async def save(current: TaskStatus) -> None:
            self.store.put(
                StoredResource(kind=item.kind, namespace=meta.namespace, name=meta.name, generation=1,
                               spec_hash=current_hash, spec=spec_wire, status=current.wire(), created=created,
                               updated=utcnow())
            )  # fmt: skip

        def outcome(current: TaskStatus) -> Outcome:
            return Outcome(ref=item.ref, intent=intent, ok=current.phase == "Succeeded", status=current,
                           message=current.message)  # fmt: skip

        if intent == "destroy":
            if record is not None:
                self.store.delete(item.kind, meta.namespace, meta.name)
            return Outcome(ref=item.ref, intent=intent, ok=True, status=status, forgotten=record is not None,
                           known=record is not None, message="forgotten")  # fmt: skip
        if intent != "converge" or (record is not None and record.spec_hash == current_hash and status.finished):
            return outcome(status)  # a task runs once per spec
        if record is not None and record.spec_hash != current_hash:
            status = TaskStatus()
        if task.spec.cancel:
            status.phase, status.message, status.completion_time = "Cancelled", "cancelled before it ran", utcnow()
            await save(status)
            return outcome(status)
        nodes = self._nodes()

        async def listed() -> tasks.Nodes:
            return nodes

        async def host(node: EdgeNode, node_status: EdgeNodeStatus | None) -> HostSpec | str:
            return self._host(node, node_status)

        run = tasks.TaskRun(self.runners["pyinfra"], self.settings.connect_timeout, listed, host, save)
        return outcome(await tasks.place_and_run(task, status, uid, slots, run))

    async def _rollout(self, item: Loaded, rollout: Rollout, intent: Intent) -> Outcome:
        """A Rollout in local mode: runs to its end (or a pause) in this invocation."""
        meta = rollout.metadata
        record = self.store.get(item.kind, meta.namespace, meta.name)
        status = RolloutStatus.model_validate(record.status) if record else RolloutStatus()
        spec_wire = rollout.spec.wire()
        current_hash = spec_hash(spec_wire)
        generation = (record.generation + (record.spec_hash != current_hash)) if record else 1
        if record is None and intent != "converge":
            return Outcome(ref=item.ref, intent=intent, ok=intent == "destroy", status=status,
                           message="not applied yet", known=False)  # fmt: skip
        if intent in ("check", "monitor", "plan"):
            ok = status.phase == "Completed"
            return Outcome(ref=item.ref, intent=intent, ok=ok, status=status, message=status.message)
        resolution, inventory = self._targets_for(rollout.spec.target(), meta)
        created = record.created if record else utcnow()
        if intent == "destroy":

            async def keep(_: RolloutStatus) -> None:
                return None

            run = rollouts.RolloutRun(self, resolution.targets, resolution.skipped, inventory, keep)
            problems = await rollouts.remove(rollout, status, run)
            if problems:
                message = "; ".join(f"{n}: {p}" for n, p in sorted(problems.items()))
                return Outcome(ref=item.ref, intent=intent, ok=False, status=status, message=message)
            self.store.delete(item.kind, meta.namespace, meta.name)
            return Outcome(ref=item.ref, intent=intent, ok=True, status=status, forgotten=True, message="destroyed")

        async def save(current: RolloutStatus) -> None:
            self.store.put(
                StoredResource(kind=item.kind, namespace=meta.namespace, name=meta.name, generation=generation,
                               spec_hash=current_hash, spec=spec_wire, status=current.wire(), created=created,
                               updated=utcnow())
            )  # fmt: skip

        # No node to go to (resolution.error included) is the rollout's own verdict: NoTargets.
        run = rollouts.RolloutRun(self, resolution.targets, resolution.skipped, inventory, save,
                                  phases=resolution.phases,
                                  progress=lambda said: self._say(f"{item.ref}:", said))  # fmt: skip
        final = await rollouts.run(rollout, status, run, generation)
        return Outcome(ref=item.ref, intent=intent, ok=final.phase == "Completed", status=final,
                       message=final.message, events=run.events)  # fmt: skip

    def _plan_fleet(self, item: Loaded) -> Outcome:
        """plan for a fleet kind: what applying it will do, in words; nothing is run."""
        info = FLEET_KINDS[item.kind]
        record = self.store.get(item.kind, item.metadata.namespace, item.metadata.name)
        status = info.status.model_validate(record.status) if record else info.status()
        return Outcome(ref=item.ref, intent="plan", ok=True, status=status, message=info.plan(item.resource))

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
        self._say(INTENT_DOING[intent], item.ref)
        if intent == "plan" and not item.deployable:
            return self._plan_fleet(item)
        if item.edge_node is not None:
            return await self._probe_node(item, intent)
        if item.rollout is not None:
            return await self._rollout(item, item.rollout, intent)
        if item.task is not None:
            return (await self._tasks([item], intent))[0]
        if item.workflow is not None:
            return await self._workflow(item, item.workflow, intent, tasks.Slots())
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

        engine = Engine(self.runners, complete, self.slots, doing=lambda doing: self._say(doing, item.ref))
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
        outcome.ok, outcome.message = _verdict(outcome)
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
                metrics.COMPLETION_CACHE_HITS.labels(completion.completer, completion.model or "none").inc()
                outcome.completion_cached = True
                return completion
        context = CompletionContext(
            namespace=item.metadata.namespace,
            name=item.metadata.name,
            related=(dependencies + self._related(item))[:20],
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


def _verdict(outcome: Outcome) -> tuple[bool, str]:
    status = outcome.status
    if outcome.intent == "destroy":
        if outcome.forgotten:
            return True, "destroyed"
        ready = status.condition(READY)
        return False, ready.message if ready else "destroy failed"
    if outcome.intent == "plan":
        c = status.condition(COMPLETED)
        return (c is not None and c.status == "True"), (c.message if c else "")
    if outcome.intent in ("check", "monitor"):
        c = status.condition(HEALTHY)
        return (c is not None and c.status == "True"), (c.message if c else "not checked")
    ready = status.condition(READY)
    return (ready is not None and ready.status == "True"), (ready.message if ready else "")


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
        return {p: p.stat().st_mtime for p in _files(self.paths)}

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
