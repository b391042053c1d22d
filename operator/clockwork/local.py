"""Local mode: the second driver of the reconcile core, without a cluster.

Reads resources from YAML files, keeps their status in the SQLite store and runs
plans on this machine (``@local``). The kopf operator drives the same
:func:`clockwork.reconcile.step`; nothing here decides *what* to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clockwork import metrics
from clockwork.api.base import ObjectMeta, utcnow
from clockwork.api.common import DeployableSpec, ResolvedCommon, Resource, ResourceStatus, Target
from clockwork.api.registry import KindInfo, kind_info, parse_resource, status_model
from clockwork.completion import configured_completer, pipeline
from clockwork.completion.base import Completer, Completion, CompletionContext, completer_id, spec_hash
from clockwork.config import Settings
from clockwork.errors import InvalidResource
from clockwork.plan import HostSpec, Operation, RunRequest, RunResult
from clockwork.reconcile import (
    Apply,
    Check,
    Complete,
    Destroy,
    Forget,
    Inputs,
    Intent,
    Observations,
    step,
)
from clockwork.reconcile.conditions import COMPLETED, HEALTHY, READY
from clockwork.runners.base import Runner
from clockwork.runners.pyinfra import PyinfraRunner
from clockwork.store import LocalStore, StoredResource

LOCAL_HOST = "@local"
MAX_STEPS = 12
YAML_SUFFIXES = (".yaml", ".yml", ".json")


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
        return self.resource.spec

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
            raise InvalidResource(str(path), ["no such file or directory"])
    return found


def load(paths: Iterable[Path]) -> list[Loaded]:
    """Every resource in the files; all problems of all documents in one error."""
    loaded: list[Loaded] = []
    problems: list[str] = []
    for path in _files(paths):
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as exc:
            problems.append(f"{path}: not valid YAML: {exc}")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read: {exc}")
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
    return loaded


@dataclass
class Outcome:
    ref: str
    intent: Intent
    ok: bool
    status: ResourceStatus[Any]
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

    @property
    def changed(self) -> bool:
        runs = [r for r in (self.apply, self.destroy) if r is not None]
        return any(h.changed for r in runs for h in r.hosts)


class UnavailableRunner:
    """Stands in for a runner that this mode cannot offer, with the reason."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    async def run(self, request: RunRequest) -> RunResult:
        return RunResult.failed(request.hosts, self.reason)


class LocalDriver:
    def __init__(
        self,
        store: LocalStore,
        settings: Settings,
        runner: Runner | None = None,
        completer: Completer | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.runners: dict[str, Runner] = {
            "pyinfra": runner or PyinfraRunner(),
            "job": UnavailableRunner(
                "job", "runner 'job' needs a Kubernetes cluster; use runner: pyinfra in local mode"
            ),
        }
        self.completer = completer or configured_completer(settings)
        # Everything in this invocation, for the related-resources context of completion.
        self.batch: list[Loaded] = []

    def completer_for(self, spec: DeployableSpec) -> Completer | None:
        """None when the user switched completion off: defaults only."""
        if spec.completion is not None and spec.completion.mode == "off":
            return None
        return self.completer

    def _related(self, item: Loaded) -> list[dict[str, Any]]:
        """Other resources for the same target in this run, in short, for the completer."""
        target = (item.spec.target or Target(local=True)).summary()
        related: list[dict[str, Any]] = []
        for other in self.batch:
            if other is item or (other.spec.target or Target(local=True)).summary() != target:
                continue
            spec = {k: (v[:300] + "…" if isinstance(v, str) and len(v) > 300 else v)
                    for k, v in other.spec.wire().items()}  # fmt: skip
            related.append({"kind": other.kind, "name": other.metadata.name, "spec": spec})
        return related[:20]

    def _targets(self, spec: DeployableSpec) -> tuple[list[str] | None, str | None]:
        target = spec.target or Target(local=True)
        if target.node_name or target.node_selector:
            return None, (
                "spec.target: nodeName and nodeSelector need EdgeNode resources, which this "
                "version of local mode does not support yet; use target: {local: true}"
            )
        return [LOCAL_HOST], None

    async def reconcile(self, item: Loaded, intent: Intent) -> Outcome:
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
        if record is None and intent in ("check", "destroy"):
            return Outcome(
                ref=item.ref,
                intent=intent,
                ok=intent == "destroy",
                status=status,
                message="not applied: nothing to destroy" if intent == "destroy" else "not applied yet",
                known=False,
            )

        targets, target_error = self._targets(item.spec)
        completer = self.completer_for(item.spec)
        inputs = Inputs(
            info=info,
            spec=item.spec,
            generation=generation if intent in ("converge", "plan") else (record.generation if record else 1),
            now=utcnow(),
            intent=intent,
            targets=targets,
            target_error=target_error,
            inventory={LOCAL_HOST: HostSpec(name=LOCAL_HOST)},
            always_apply=True,
            run_timeout=self.settings.run_timeout,
            connect_timeout=self.settings.connect_timeout,
            completer=completer_id(completer.name, completer.model) if completer else "defaults",
            policy=self.settings.policy,
            approved_hash=self.store.approval((item.kind, meta.namespace, meta.name)),
        )
        outcome = Outcome(ref=item.ref, intent=intent, ok=False, status=status)
        obs = Observations()
        for _ in range(MAX_STEPS):
            current = step(inputs, status, obs)
            outcome.status, outcome.resolved = current.status, current.resolved
            outcome.operations = current.operations
            if current.done:
                break
            for action in current.actions:
                await self._perform(action, info, item, current.resolved, obs, outcome)
            if outcome.forgotten:
                break
        else:
            raise RuntimeError(f"{item.ref}: reconcile did not settle after {MAX_STEPS} steps")
        if intent in ("converge", "plan") and not outcome.completion_asked and outcome.status.completion:
            outcome.completion_cached = True
            completion = outcome.status.completion
            metrics.COMPLETION_CACHE_HITS.labels(completion.completer, completion.model or "none").inc()

        self._persist(item, info, record, user_spec, current_hash, generation, outcome)
        outcome.ok, outcome.message = _verdict(outcome)
        return outcome

    async def _perform(
        self,
        action: Any,
        info: KindInfo,
        item: Loaded,
        resolved: ResolvedCommon | None,
        obs: Observations,
        outcome: Outcome,
    ) -> None:
        runner = self.runners[resolved.runner if resolved else "pyinfra"]
        if isinstance(action, Complete):
            obs.completion = await self._complete(info, item, action.spec, action.spec_hash, outcome)
        elif isinstance(action, Apply):
            obs.apply = outcome.apply = await runner.run(action.request)
        elif isinstance(action, Check):
            obs.check = outcome.check = await runner.run(action.request)
        elif isinstance(action, Destroy):
            obs.destroy = outcome.destroy = await runner.run(action.request)
        elif isinstance(action, Forget):
            outcome.forgotten = True
        else:  # pragma: no cover - the union is closed
            raise TypeError(f"unknown action {action!r}")

    async def _complete(
        self, info: KindInfo, item: Loaded, spec: dict[str, Any], hash_: str, outcome: Outcome
    ) -> Completion:
        """Complete through the local cache: an unchanged spec never asks a completer twice."""
        completer = self.completer_for(item.spec)
        cid = completer_id(completer.name, completer.model) if completer else "defaults"
        key = (item.kind, item.metadata.namespace, item.metadata.name)
        cached = self.store.get_completion(key, hash_, cid)
        if cached is not None:
            completion = Completion.model_validate_json(cached)
            metrics.COMPLETION_CACHE_HITS.labels(completion.completer, completion.model or "none").inc()
            outcome.completion_cached = True
            return completion
        context = CompletionContext(
            namespace=item.metadata.namespace, name=item.metadata.name, related=self._related(item)
        )
        outcome.completion_asked = True
        completion = await pipeline.complete(info, spec, context, completer)
        if completion.temporary_error is None:
            self.store.put_completion(key, hash_, cid, completion.model_dump_json())
        return completion

    def approve(self, item: Loaded, reviewed: str | None) -> tuple[bool, str]:
        """Approve the current completion of ``item`` (the local clockwork.dev/approve)."""
        key = (item.kind, item.metadata.namespace, item.metadata.name)
        completer = self.completer_for(item.spec)
        cid = completer_id(completer.name, completer.model) if completer else "defaults"
        cached = self.store.get_completion(key, spec_hash(item.spec.wire()), cid)
        if cached is None:
            return False, "no completion of the current spec yet: run `clockwork plan` first and review it"
        current = spec_hash(Completion.model_validate_json(cached).completed)
        if reviewed and reviewed != current:
            return False, f"hash {reviewed} is not the current completion ({current}); review it again"
        self.store.approve(key, current)
        return True, current

    def _persist(
        self,
        item: Loaded,
        info: KindInfo,
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
        else:  # check/destroy keep the spec that was applied
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
    if outcome.intent == "check":
        c = status.condition(HEALTHY)
        return (c is not None and c.status == "True"), (c.message if c else "not checked")
    ready = status.condition(READY)
    return (ready is not None and ready.status == "True"), (ready.message if ready else "")
