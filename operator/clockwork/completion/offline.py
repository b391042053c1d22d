"""The offline completer: deterministic, no network, the default without a model.

It fills what a catalogue and the resource's own name can tell, and says plainly
what it cannot know (the prose of a file) instead of inventing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import JsonValue

from clockwork.api.common import CompletionSource
from clockwork.api.registry import KindInfo
from clockwork.completion import catalogue, guard
from clockwork.completion.base import CompletionContext, Proposal, Unresolved

DEFAULT_ROOT = "/srv/clockwork"
# Why only: the message that reports it adds what to do (set the field, or configure a model).
NO_PROSE = "the offline completer does not write prose"


class OfflineCompleter:
    name = "offline"
    source: CompletionSource = "offline"
    model: str | None = None

    def __init__(self, rules: Mapping[str, Rules], root: str = DEFAULT_ROOT) -> None:
        # Each kind's own rules, from its entry in clockwork.kinds (the layer above this one).
        self.rules = rules
        self.root = root.rstrip("/") or "/"

    async def propose(
        self, info: KindInfo, spec: dict[str, Any], missing: list[str], context: CompletionContext
    ) -> Proposal:
        kind_rules = self.rules.get(info.kind)
        if kind_rules is None:
            return Proposal(unresolved=[Unresolved(field=f, reason="no offline rule for this kind") for f in missing])
        values, unresolved = kind_rules(self, spec, missing, context)
        return Proposal(values=values, unresolved=unresolved)

    async def aclose(self) -> None:
        return None


Rules = Callable[
    [OfflineCompleter, dict[str, Any], list[str], CompletionContext],
    tuple[dict[str, JsonValue], list[Unresolved]],
]


def file(
    self: OfflineCompleter, spec: dict[str, Any], missing: list[str], context: CompletionContext
) -> tuple[dict[str, JsonValue], list[Unresolved]]:
    description = spec.get("description")
    name = context.name + catalogue.file_extension(description)
    values: dict[str, JsonValue] = {}
    if "path" in missing:
        values["path"] = f"{self.root}/{name}"
    if "name" in missing:
        values["name"] = name
    if "directory" in missing:
        values["directory"] = self.root
    if "mode" in missing and (mode := catalogue.file_mode(description)):
        values["mode"] = mode
    wants_content = "content" in missing and spec.get("present", True)
    unresolved = [Unresolved(field="content", reason=NO_PROSE)] if wants_content else []
    return values, unresolved


def directory(
    self: OfflineCompleter, spec: dict[str, Any], missing: list[str], context: CompletionContext
) -> tuple[dict[str, JsonValue], list[Unresolved]]:
    values: dict[str, JsonValue] = {}
    if "path" in missing:
        values["path"] = f"{self.root}/{context.name}"
    return values, []


def user(
    self: OfflineCompleter, spec: dict[str, Any], missing: list[str], context: CompletionContext
) -> tuple[dict[str, JsonValue], list[Unresolved]]:
    name = spec.get("name") or context.name
    values: dict[str, JsonValue] = {}
    if spec.get("system"):
        if "shell" in missing:
            values["shell"] = "/usr/sbin/nologin"
        return values, []
    if "home" in missing:
        values["home"] = f"/home/{name}"
    if "shell" in missing:
        values["shell"] = "/bin/bash"
    return values, []


def package(
    self: OfflineCompleter, spec: dict[str, Any], missing: list[str], context: CompletionContext
) -> tuple[dict[str, JsonValue], list[Unresolved]]:
    if "names" not in missing:
        return {}, []
    service = catalogue.match_service(spec.get("description"))
    if service is None and _PACKAGE_NAME.match(context.name):
        return {"names": [context.name]}, []
    reason = "the offline completer names a package only after the resource"
    return {}, [Unresolved(field="names", reason=reason)]


def container(
    self: OfflineCompleter, spec: dict[str, Any], missing: list[str], context: CompletionContext
) -> tuple[dict[str, JsonValue], list[Unresolved]]:
    service = catalogue.match_service(spec.get("description")) or catalogue.match_service(context.name)
    if service is None:
        service = catalogue.service_for_image(spec.get("image"))
    values: dict[str, JsonValue] = {}
    dependencies = _dependency_urls(context)
    if service is None:
        if "image" in missing:
            reason = "no catalogue service matches the description or name"
            return values, [Unresolved(field="image", reason=reason)]
    else:
        if "image" in missing:
            values["image"] = service.image
        if "ports" in missing:
            # On this machine only (a cache is nobody's business beyond it), on the port the
            # description names or an unprivileged one (80 -> 8080).
            host = catalogue.port_in(spec.get("description")) or catalogue.host_port(service.port)
            values["ports"] = [{"host": host, "container": service.port, "hostIp": "127.0.0.1"}]
        if "volumes" in missing and service.data_dir:
            values["volumes"] = [{"path": service.data_dir, "volume": f"{context.name}-data"}]
        if "httpCheck" in missing and service.health_path:
            values["httpCheck"] = {"path": service.health_path}
    if "networks" in missing and (service is not None or dependencies):
        # Containers on Clockwork's own network reach each other by name (redis://cache:6379).
        values["networks"] = [guard.CLOCKWORK_NETWORK]
    env: dict[str, JsonValue] = dict(service.env) if service else {}
    env.update(dependencies)
    if "env" in missing and env:
        values["env"] = env
    return values, []


def _dependency_urls(context: CompletionContext) -> dict[str, JsonValue]:
    """SERVICE_URL for each Container this one depends on (dependsOn): its name on Clockwork's
    network and the port inside it, from its completed image."""
    urls: dict[str, JsonValue] = {}
    for related in context.related:
        completed = related.get("spec")
        if not related.get("dependency") or related.get("kind") != "Container" or not isinstance(completed, dict):
            continue
        image = completed.get("image")
        service = catalogue.service_for_image(image if isinstance(image, str) else None)
        if service is None:
            continue
        host = completed.get("name") or related.get("name")
        key = re.sub(r"[^A-Z0-9]", "_", service.name.upper()) + "_URL"
        urls[key] = f"{service.scheme}://{host}:{service.port}"
    return urls


def gitrepo(
    self: OfflineCompleter, spec: dict[str, Any], missing: list[str], context: CompletionContext
) -> tuple[dict[str, JsonValue], list[Unresolved]]:
    values: dict[str, JsonValue] = {}
    if "dest" in missing:
        values["dest"] = f"{self.root}/{context.name}"
    unresolved = []
    if "url" in missing:
        unresolved.append(Unresolved(field="url", reason="the offline completer cannot know a repository"))
    return values, unresolved


def workload(
    self: OfflineCompleter, spec: dict[str, Any], missing: list[str], context: CompletionContext
) -> tuple[dict[str, JsonValue], list[Unresolved]]:
    unresolved = []
    if "command" in missing:
        reason = "the offline completer does not write programs (spec.module with spec.entryPoint may stand in)"
        unresolved.append(Unresolved(field="command", reason=reason))
    values: dict[str, JsonValue] = {}
    if "runMode" in missing:
        if spec.get("schedule"):
            values["runMode"] = "schedule"
        elif spec.get("maxRuns"):
            values["runMode"] = "nTimes"
    if "type" in missing and values.get("runMode") in ("schedule", "nTimes"):
        values["type"] = "script"
    return values, unresolved


_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]{1,63}$")
