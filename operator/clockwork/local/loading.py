"""Local mode reads resources from YAML: files, documents, and what each depends on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from clockwork import deps, inputs
from clockwork.api.base import ObjectMeta
from clockwork.api.common import DeployableSpec, Resource
from clockwork.api.edgenode import EdgeNode
from clockwork.api.registry import parse_resource
from clockwork.errors import InvalidResource
from clockwork.store import LocalStore

YAML_SUFFIXES = (".yaml", ".yml", ".json")
R = TypeVar("R", bound=Resource)


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
        """The spec of a deployable kind (EdgeNodes are handled apart)."""
        spec = self.resource.spec
        if not isinstance(spec, DeployableSpec):
            raise TypeError(f"{self.ref} is not deployable")
        return spec

    @property
    def deployable(self) -> bool:
        return isinstance(self.resource.spec, DeployableSpec)

    def of(self, model: type[R]) -> R | None:
        """The resource as ``model`` (``item.of(Task)``), or None when it is another kind."""
        return self.resource if isinstance(self.resource, model) else None

    @property
    def ref(self) -> str:
        return self.resource.ref


def files(paths: Iterable[Path]) -> list[Path]:
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
    for path in files(paths):
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
            [item.ref for item in sorted(loaded, key=lambda i: (i.of(EdgeNode) is None, not i.deployable))],
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
