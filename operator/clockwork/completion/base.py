"""What every completer returns, and the interface reconcile/ calls."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from pydantic import Field, JsonValue

from clockwork.api.base import CWModel
from clockwork.api.common import FilledField
from clockwork.api.registry import KindInfo


class Unresolved(CWModel):
    field: str = Field(description="Dotted path under spec.")
    reason: str


class Completion(CWModel):
    """The outcome of completing one spec (identified by its hash)."""

    spec_hash: str
    completer: str
    model: str | None = None
    completed: dict[str, JsonValue] = Field(description="The full spec in wire form.")
    filled: list[FilledField] = Field(default_factory=list)
    unresolved: list[Unresolved] = Field(default_factory=list)
    # A temporary failure (endpoint down) is not cached: the next reconcile tries again.
    temporary_error: str | None = None


class CompletionContext(CWModel):
    """What a completer may know beyond the spec itself."""

    namespace: str = "default"
    name: str = ""
    diagnostics: str | None = Field(default=None, description="Errors from a failed apply or check.")
    related: list[dict[str, JsonValue]] = Field(default_factory=list)


class Completer(Protocol):
    name: str

    async def complete(
        self, info: KindInfo, spec: dict[str, Any], context: CompletionContext
    ) -> Completion: ...


def spec_hash(spec: dict[str, Any]) -> str:
    """Stable hash of a user spec (wire form): the completion cache key."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
