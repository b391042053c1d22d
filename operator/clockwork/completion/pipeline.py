"""One completion: ask a completer for the missing fields, then fill defaults.

User values always win, then the completer's, then defaults; every filled leaf is
recorded with its source. Values for fields that were not asked for are dropped
here (and named by the guard), so a completer can never overwrite the spec.
"""

from __future__ import annotations

import time
from typing import Any

from clockwork import metrics
from clockwork.api import fields
from clockwork.api.common import FilledField
from clockwork.api.registry import KindInfo
from clockwork.api.types import Trait
from clockwork.completion.base import Completer, Completion, CompletionContext, Unresolved, spec_hash
from clockwork.completion.defaults import defaults_for, merge_missing


def missing_fields(info: KindInfo, spec: dict[str, Any]) -> list[str]:
    """Completable fields the user left out, minus alternatives to what they did set,
    minus what no completer may choose for this spec (:func:`withheld`)."""
    skip: set[str] = {u.field for u in withheld(info, spec)}
    for groups in info.alternatives:
        chosen = [g for g in groups if any(spec.get(f) is not None for f in g)]
        if chosen:
            skip |= {f for g in groups if g not in chosen for f in g}
        else:
            skip |= {f for g in groups[1:] for f in g}
    return [f for f in info.completable if spec.get(f) is None and f not in skip]


def withheld(info: KindInfo, spec: dict[str, Any]) -> list[Unresolved]:
    """Completable fields left out that a completer is never asked for, with why:
    what ``present: false`` removes, and who the root account is."""
    found: list[Unresolved] = []
    if spec.get("present") is False:
        for name in fields.with_trait(info.spec_model, Trait.REMOVES):
            if spec.get(name) is None and name in info.completable:
                why = "Clockwork never lets a completer choose what is removed (present: false); set it yourself"
                found.append(Unresolved(field=name, reason=why))
    if info.name_field == "name" and "home" in info.completable and (spec.get("name") or "") == "root":
        for name in ("home", "shell"):
            if spec.get(name) is None:
                found.append(Unresolved(field=name, reason="a completer never changes the root account"))
    return found


async def complete(
    info: KindInfo,
    spec: dict[str, Any],
    context: CompletionContext,
    completer: Completer | None,
    identity: str | None = None,
) -> Completion:
    """Complete ``spec`` with ``completer`` (None: defaults only).

    ``identity`` is the spec hash the completion is filed under when ``spec`` holds
    more than the user wrote (remediation keeps sensitive values as if given).
    """
    completion = await _complete(info, spec, context, completer)
    if identity is not None:
        completion.spec_hash = identity
    return completion


async def _complete(
    info: KindInfo, spec: dict[str, Any], context: CompletionContext, completer: Completer | None
) -> Completion:
    # What names the thing on the node defaults to the resource's name (a User "root").
    named = {**spec, info.name_field: spec.get(info.name_field) or context.name} if info.name_field else spec
    missing = missing_fields(info, named)
    held = withheld(info, named)
    if completer is None or not missing:
        completion = with_defaults(info, spec, context.name)
        if completer is not None:
            completion.completer, completion.model = completer.name, completer.model
        completion.unresolved += held
        return completion
    started = time.monotonic()
    proposal = await completer.propose(info, spec, missing, context)
    metrics.record_completion(completer.name, completer.model, proposal, time.monotonic() - started)
    filled: list[FilledField] = []
    completed = spec
    for source in dict.fromkeys([completer.source, *proposal.sources.values()]):
        wanted = {
            k: v for k, v in proposal.values.items()
            if k in missing and v is not None and proposal.sources.get(k, completer.source) == source
        }  # fmt: skip
        completed = merge_missing(completed, wanted, source, filled, completer.model if source == "ai" else None)
    completed = merge_missing(completed, defaults_for(info, context.name), "default", filled)
    return Completion(
        spec_hash=spec_hash(spec),
        completer=completer.name,
        model=completer.model,
        completed=completed,
        filled=filled,
        unresolved=[*held, *(u for u in proposal.unresolved if u.field not in {h.field for h in held})],
        temporary_error=proposal.temporary_error,
        error=proposal.error,
    )


def with_defaults(info: KindInfo, spec: dict[str, Any], name: str | None = None) -> Completion:
    """Defaults only: what `completion.mode: off` gets, and what every completion ends with."""
    filled: list[FilledField] = []
    completed = merge_missing(spec, defaults_for(info, name), "default", filled)
    return Completion(spec_hash=spec_hash(spec), completer="defaults", completed=completed, filled=filled)
