"""Every kind Clockwork serves, with the names the CRDs and the CLI use."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from clockwork.api import fields
from clockwork.api.base import API_VERSION
from clockwork.api.common import UNION_TAGS, DeployableSpec, ResolvedCommon, Resource, ResourceStatus
from clockwork.api.container import Container, ContainerSpec, ResolvedContainer
from clockwork.api.edgenode import EdgeNode, EdgeNodeSpec, EdgeNodeStatus
from clockwork.api.file import File, FileSpec, ResolvedFile
from clockwork.api.gitrepo import GitRepo, GitRepoSpec, ResolvedGitRepo
from clockwork.api.rollout import Rollout, RolloutSpec, RolloutStatus
from clockwork.api.system import (
    Directory,
    DirectorySpec,
    Package,
    PackageSpec,
    ResolvedDirectory,
    ResolvedPackage,
    ResolvedUser,
    User,
    UserSpec,
)
from clockwork.api.task import Task, TaskSpec, TaskStatus
from clockwork.api.workflow import Workflow, WorkflowSpec, WorkflowStatus
from clockwork.api.workload import ResolvedWorkload, Workload, WorkloadSpec
from clockwork.errors import InvalidResource, describe_validation_error
from clockwork.model import CWModel


@dataclass(frozen=True)
class Column:
    """A printer column of ``kubectl get``."""

    name: str
    type: str
    json_path: str


def _condition_column(name: str) -> Column:
    return Column(name, "string", f'.status.conditions[?(@.type=="{name}")].status')


AGE = Column("Age", "date", ".metadata.creationTimestamp")
DEPLOYABLE_COLUMNS = (
    _condition_column("Ready"),
    _condition_column("Healthy"),
    Column("Target", "string", ".status.target"),
    AGE,
)


@dataclass(frozen=True, kw_only=True)
class KindBase:
    """What every kind has: names, the envelope model, and how `kubectl get` shows it."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    model: type[Resource]
    description: str
    printer_columns: tuple[Column, ...] = DEPLOYABLE_COLUMNS
    # The condition that plays Ready's part in the tables (an EdgeNode is Reachable).
    ready_condition: str = "Ready"

    @property
    def ready_phases(self) -> tuple[str, ...] | None:
        """The phases in which a resource is where it should be, for a kind whose
        ``status.phase`` says so: such a kind is neither completed nor compiled, and its
        plan is one sentence. None: the Ready condition says it (a deployable kind)."""
        return None


@dataclass(frozen=True, kw_only=True)
class KindInfo(KindBase):
    """A deployable kind: completed, compiled, applied and checked by the reconcile core."""

    spec_model: type[DeployableSpec]
    resolved_model: type[ResolvedCommon]
    # Seconds between health checks; 0 means once after apply (and after changes).
    default_health_interval: int
    # Sets of field groups that say the same thing in different ways: once the user
    # set any field of one group of a set, the other groups of that set are not completed.
    alternatives: tuple[tuple[tuple[str, ...], ...], ...] = ()
    # The field that names the thing on the node; it defaults to the resource's name.
    name_field: str | None = None

    @property
    def completable(self) -> tuple[str, ...]:
        """Spec fields a completer (offline or AI) may fill: those with a tier on their type
        (:class:`clockwork.api.types.Tier`); everything else comes from the user or defaults."""
        return fields.completable(self.spec_model)


@dataclass(frozen=True, kw_only=True)
class FleetKind(KindBase):
    """A kind the fleet layer drives (EdgeNode, ...): its own spec and status."""

    spec_model: type[CWModel]
    status: type[CWModel]
    # What applying the resource will do, in one sentence (``clockwork plan``).
    plan: Callable[[Any], str]
    # Phases in which the resource is where it should be (``clockwork status`` exits 1 otherwise).
    ok_phases: tuple[str, ...] = ()

    @property
    def ready_phases(self) -> tuple[str, ...]:
        return self.ok_phases


def _edge_node_plan(node: EdgeNode) -> str:
    spec = node.spec
    return (
        f"reached over SSH at {spec.address}:{spec.effective_port} as {spec.effective_user}; probed now and "
        f"every {spec.effective_heartbeat}s"
    )


def _rollout_plan(rollout: Rollout) -> str:
    spec = rollout.spec
    selector = ",".join(f"{k}={v}" for k, v in sorted(spec.node_selector.items()))
    strategy = spec.strategy
    batch = (strategy.batch_size or strategy.max_unavailable) if strategy else None
    names = ", ".join(f"{r.kind}/{r.name}" for r in spec.resources)
    return f"rolls version {spec.version} ({names}) out to the EdgeNodes with {selector}, {batch or 1} at a time"


def _task_plan(task: Task) -> str:
    spec = task.spec
    what = f"`{spec.command}`" if spec.command else "its script"
    needs = ", ".join(spec.required_capabilities or []) or "no particular capability"
    where = f"on {spec.node_name}" if spec.node_name else f"on an Online EdgeNode with {needs}"
    return f"runs {what} once {where} (at most {spec.timeout}s)"


def _workflow_plan(workflow: Workflow) -> str:
    steps = [s.name + (f" (after {', '.join(s.depends_on)})" if s.depends_on else "") for s in workflow.spec.steps]
    return f"runs {len(steps)} step(s) as Tasks: {'; '.join(steps)}"


KINDS: dict[str, KindInfo] = {
    info.kind: info
    for info in (
        KindInfo(
            kind="File",
            plural="files",
            singular="file",
            short_names=("cwfile",),
            model=File,
            spec_model=FileSpec,
            resolved_model=ResolvedFile,
            default_health_interval=0,
            description="A file on a target machine: content (or a template), mode and ownership.",
            alternatives=((("path",), ("directory", "name")), (("content",), ("template",))),
        ),
        KindInfo(
            kind="Directory",
            plural="directories",
            singular="directory",
            short_names=("cwdir",),
            model=Directory,
            spec_model=DirectorySpec,
            resolved_model=ResolvedDirectory,
            default_health_interval=0,
            description="A directory on a target machine: mode and ownership, optionally recursive.",
        ),
        KindInfo(
            kind="User",
            plural="users",
            singular="user",
            short_names=("cwuser",),
            model=User,
            spec_model=UserSpec,
            resolved_model=ResolvedUser,
            default_health_interval=0,
            description="A local user account on a target machine.",
            name_field="name",
        ),
        KindInfo(
            kind="Package",
            plural="packages",
            singular="package",
            short_names=("cwpkg",),
            model=Package,
            spec_model=PackageSpec,
            resolved_model=ResolvedPackage,
            default_health_interval=0,
            description="System packages through the node's package manager (apt, dnf, apk).",
        ),
        KindInfo(
            kind="Container",
            plural="containers",
            singular="container",
            short_names=("cwct",),
            model=Container,
            spec_model=ContainerSpec,
            resolved_model=ResolvedContainer,
            default_health_interval=30,
            description="A container on a target machine (Docker or Podman), kept running and checked.",
            name_field="name",
        ),
        KindInfo(
            kind="GitRepo",
            plural="gitrepos",
            singular="gitrepo",
            short_names=("cwgit",),
            model=GitRepo,
            spec_model=GitRepoSpec,
            resolved_model=ResolvedGitRepo,
            default_health_interval=300,
            description="A git working copy on a target machine at a branch, tag or commit.",
        ),
        KindInfo(
            kind="Workload",
            plural="workloads",
            singular="workload",
            short_names=("cwwl",),
            model=Workload,
            spec_model=WorkloadSpec,
            resolved_model=ResolvedWorkload,
            default_health_interval=60,
            description="A program run forever, n times or on a schedule, as systemd units with limits.",
            alternatives=((("command",), ("module", "entryPoint", "params")),),
            name_field="name",
        ),
    )
}

FLEET_KINDS: dict[str, FleetKind] = {
    info.kind: info
    for info in (
        FleetKind(
            kind="EdgeNode",
            plan=_edge_node_plan,
            ok_phases=("Online",),
            ready_condition="Reachable",
            plural="edgenodes",
            singular="edgenode",
            short_names=("en", "edge"),
            model=EdgeNode,
            spec_model=EdgeNodeSpec,
            status=EdgeNodeStatus,
            description="A machine Clockwork deploys to over SSH: address, key, host key, capabilities.",
            printer_columns=(
                Column("Phase", "string", ".status.phase"),
                Column("Address", "string", ".spec.address"),
                Column("Last-Seen", "date", ".status.lastSeen"),
                AGE,
            ),
        ),
        FleetKind(
            kind="Rollout",
            plan=_rollout_plan,
            ok_phases=("Completed",),
            plural="rollouts",
            singular="rollout",
            short_names=("ro", "cwro"),
            model=Rollout,
            spec_model=RolloutSpec,
            status=RolloutStatus,
            description="A version of some resources rolled across EdgeNodes in batches, gated on health.",
            printer_columns=(
                Column("Phase", "string", ".status.phase"),
                Column("Version", "string", ".status.version"),
                Column("Batch", "integer", ".status.batch"),
                Column("Batches", "integer", ".status.batches"),
                AGE,
            ),
        ),
        FleetKind(
            kind="Task",
            plan=_task_plan,
            ok_phases=("Succeeded", "Pending", "Assigned", "Running", "Cancelled"),
            plural="tasks",
            singular="task",
            short_names=("cwtask",),
            model=Task,
            spec_model=TaskSpec,
            status=TaskStatus,
            description="A command run once on an EdgeNode that has the capabilities it needs.",
            printer_columns=(
                Column("Phase", "string", ".status.phase"),
                Column("Node", "string", ".status.node"),
                Column("Exit", "integer", ".status.exitCode"),
                AGE,
            ),
        ),
        FleetKind(
            kind="Workflow",
            plan=_workflow_plan,
            ok_phases=("Succeeded", "Running", "Pending"),
            plural="workflows",
            singular="workflow",
            short_names=("cwwf",),
            model=Workflow,
            spec_model=WorkflowSpec,
            status=WorkflowStatus,
            description="Steps of Tasks run in order, or as a graph by dependsOn.",
            printer_columns=(
                Column("Phase", "string", ".status.phase"),
                Column("Message", "string", ".status.message"),
                AGE,
            ),
        ),
    )
}

ALL_KINDS: dict[str, KindBase] = {**KINDS, **FLEET_KINDS}


def column_value(column: Column, body: dict[str, Any]) -> Any:
    """The value of a printer column's JSONPath in an object (the forms our columns use:
    ``.a.b`` and ``.list[?(@.key=="value")].field``), or None."""
    current: Any = body
    for name, _, key, value in re.findall(r'\.(\w+)(\[\?\(@\.(\w+)=="([^"]*)"\)\])?', column.json_path):
        current = current.get(name) if isinstance(current, dict) else None
        if key and isinstance(current, list):
            current = next((i for i in current if isinstance(i, dict) and i.get(key) == value), None)
        if current is None:
            return None
    return current


def is_ok(kind: str, status: dict[str, Any]) -> bool:
    """Whether a resource's status (wire form) says it is where it should be."""
    info = ALL_KINDS.get(kind)
    if isinstance(info, FleetKind):
        return status.get("phase") in info.ok_phases
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return bool(ready and ready.get("status") == "True")


def status_model(info: KindInfo) -> type[ResourceStatus[Any]]:
    """``ResourceStatus`` parametrised with the kind's spec (status.completed)."""
    return ResourceStatus[info.spec_model]  # type: ignore[name-defined]


def status_schema_model(info: KindBase) -> type[CWModel]:
    """The model of a kind's status, for its CRD."""
    if isinstance(info, FleetKind):
        return info.status
    assert isinstance(info, KindInfo)
    return status_model(info)


def spec_schema_model(info: KindBase) -> type[CWModel]:
    assert isinstance(info, KindInfo | FleetKind)
    return info.spec_model


def kind_info(kind: str) -> KindInfo:
    """A deployable kind by name (bad input when unknown)."""
    try:
        return KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(ALL_KINDS))
        raise InvalidResource(f"kind {kind!r}", [f"unknown kind; Clockwork serves {known}"]) from None


def any_kind(kind: str) -> KindBase:
    try:
        return ALL_KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(ALL_KINDS))
        raise InvalidResource(f"kind {kind!r}", [f"unknown kind {kind!r}; Clockwork serves {known}"]) from None


def describe_document(doc: Any) -> str:
    """Kind/namespace/name of a document, as far as it can be read, for messages."""
    if not isinstance(doc, dict):
        return "<document>"
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = meta.get("name", "<unnamed>") if isinstance(meta, dict) else "<unnamed>"
    namespace = meta.get("namespace", "default") if isinstance(meta, dict) else "default"
    return f"{doc.get('kind', '<no kind>')}/{namespace}/{name}"


def parse_resource(doc: Any, *, source: str = "") -> Resource:
    """Validate one user document (YAML/JSON object) into its kind's model.

    Only camelCase wire names are accepted, unknown fields are errors, and every
    problem names its field. ``status`` in user input is ignored, as kubectl apply
    does for a status subresource.
    """
    where = (f"{source}: " if source else "") + describe_document(doc)
    if not isinstance(doc, dict):
        raise InvalidResource(where, ["a resource must be a mapping with apiVersion, kind, metadata, spec"])
    api_version = doc.get("apiVersion")
    if api_version != API_VERSION:
        raise InvalidResource(where, [f"apiVersion: must be {API_VERSION!r} (got {api_version!r})"])
    try:
        info = any_kind(str(doc.get("kind")))
    except InvalidResource as exc:  # name the file too: a typo in kind is a newcomer's first error
        raise InvalidResource(where, [f"kind: {p}" for p in exc.problems]) from None
    body = {k: v for k, v in doc.items() if k != "status"}
    body.setdefault("spec", {})
    try:
        return info.model.model_validate(body, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise InvalidResource(where, describe_validation_error(exc, union_tags=UNION_TAGS)) from None
