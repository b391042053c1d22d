"""What completers propose, what completion produces, and the interface reconcile uses."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from pydantic import Field, JsonValue

from clockwork.api.common import CompletionSource, FilledField
from clockwork.api.registry import KindInfo
from clockwork.model import CWModel


class Unresolved(CWModel):
    field: str = Field(description="Dotted path under spec.")
    reason: str


class CompletionContext(CWModel):
    """What a completer may know beyond the spec itself."""

    namespace: str = "default"
    name: str = ""
    # Errors from a failed apply or health check, for re-completion during remediation.
    diagnostics: str | None = None
    attempt: int = 0
    # Related resources: kind, name and spec; dependencies (dependsOn, with their completed
    # spec) first and marked ``dependency: true``, then others for the same target.
    related: list[dict[str, JsonValue]] = Field(default_factory=list)
    # Missing fields no other completer can fill (prose): a model is made to answer them.
    must_fill: tuple[str, ...] = ()


class Proposal(CWModel):
    """A completer's answer: values for (some of) the missing fields, and what it cannot know."""

    values: dict[str, JsonValue] = Field(default_factory=dict)
    # Who proposed a value, where not the completer asked (a model's gaps filled by rules).
    sources: dict[str, CompletionSource] = Field(default_factory=dict)
    unresolved: list[Unresolved] = Field(default_factory=list)
    # Worth trying again later (endpoint down, timeout, wrong key): not cached.
    temporary_error: str | None = None
    # The completer gave up for this spec (output kept failing validation): cached.
    error: str | None = None
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class Completion(CWModel):
    """The outcome of completing one spec (identified by its hash)."""

    spec_hash: str
    completer: str
    model: str | None = None
    completed: dict[str, JsonValue] = Field(description="The full spec in wire form.")
    filled: list[FilledField] = Field(default_factory=list)
    unresolved: list[Unresolved] = Field(default_factory=list)
    temporary_error: str | None = None
    error: str | None = None


class Completer(Protocol):
    """Proposes values for missing fields. Never raises for a model's failure: that is a proposal."""

    name: str
    source: CompletionSource
    model: str | None

    async def propose(
        self, info: KindInfo, spec: dict[str, Any], missing: list[str], context: CompletionContext
    ) -> Proposal: ...

    async def aclose(self) -> None:
        """Release connections; called once the driver is done with the completer."""


def completer_id(name: str, model: str | None) -> str:
    """Cache identity of a completer: a different model completes afresh."""
    return f"{name}:{model}" if model else name


def spec_hash(spec: dict[str, Any]) -> str:
    """Stable hash of a user spec (wire form): the completion cache key."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
