"""The offline completer: deterministic, no network, the default without a model.

It fills what a catalogue and the resource's own name can tell, and says plainly
what it cannot know (the prose of a file) instead of inventing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import JsonValue

from clockwork.api.common import CompletionSource
from clockwork.api.registry import KindInfo
from clockwork.completion import catalogue
from clockwork.completion.base import CompletionContext, Proposal, Unresolved

DEFAULT_ROOT = "/srv/clockwork"
NO_PROSE = "the offline completer does not write prose; set spec.content or configure a model (CW_MODEL)"


class OfflineCompleter:
    name = "offline"
    source: CompletionSource = "offline"
    model: str | None = None

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = root.rstrip("/") or "/"

    async def propose(
        self, info: KindInfo, spec: dict[str, Any], missing: list[str], context: CompletionContext
    ) -> Proposal:
        kind_rules = KIND_RULES.get(info.kind)
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


def _file(
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


KIND_RULES: dict[str, Rules] = {"File": _file}
