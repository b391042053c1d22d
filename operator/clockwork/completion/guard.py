"""The guard: the policy every completed value meets before anything is compiled.

AI proposes, the core decides. Model validation (patterns, ranges, unknown
fields) already applies to the whole completed spec; the guard is the policy a
schema cannot carry, for every value a *completer* supplied (user-written values
are the user's decision; defaults are ours). It has two answers:

- :func:`check` — values no completer may propose at all, each a
  :class:`Violation` naming the field and the rule (nothing is applied);
- :func:`review` — values of ``review``-tier fields (what runs, what is
  installed, who an account is) that a person must approve before apply, unless
  an allowlist the operator configured covers them.

Which rule applies to a field comes from markers on the model's types
(:class:`~clockwork.api.types.Guarded`, :class:`~clockwork.api.types.Tier`,
:class:`~clockwork.api.types.Trait`), so a new kind is guarded by declaring its
types. Paths are judged by :mod:`clockwork.paths`, here as text and again on the
node by the claim operation.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from clockwork import paths
from clockwork.api import fields
from clockwork.api.types import Guarded, Tier, Trait
from clockwork.completion import catalogue
from clockwork.completion.policy import (
    CLOCKWORK_NETWORK,
    DEFAULT_ALLOWED_ROOTS,
    GuardPolicy,
    ReviewItem,
    Violation,
    git_host,
    git_host_allowed,
    image_allowed,
    image_repository,
)
from clockwork.completion.rules import RULES, Walk
from clockwork.text import redact_url

# The policy's names are the guard's to callers (config, drivers, completers).
__all__ = [
    "CLOCKWORK_NETWORK",
    "DEFAULT_ALLOWED_ROOTS",
    "SENSITIVE",
    "GuardPolicy",
    "ReviewItem",
    "Violation",
    "check",
    "review",
    "review_hash",
    "sensitive_fields",
]


def check(
    spec_model: type[BaseModel], completed: dict[str, Any], proposed: Iterable[str], policy: GuardPolicy
) -> list[Violation]:
    """Violations among the ``proposed`` (dotted wire paths a completer filled)."""
    walk = Walk(policy, set(proposed))
    allowed = set(fields.completable(spec_model))
    for path in sorted(walk.proposed):
        if path.split(".", 1)[0] not in allowed:
            walk.add(path, "not-completable", "completers may not set this field")
    _walk_model(walk, spec_model, completed, "")
    _removal_targets(walk, spec_model, completed)
    _joined_paths(walk, spec_model, completed)
    _accounts(walk, spec_model, completed)
    return walk.found


def _top(walk: Walk) -> set[str]:
    return {p.split(".", 1)[0].split("[", 1)[0] for p in walk.proposed}


def _removal_targets(walk: Walk, spec_model: type[BaseModel], completed: dict[str, Any]) -> None:
    if completed.get("present") is not False:
        return
    for name in fields.with_trait(spec_model, Trait.REMOVES):
        if name in _top(walk):
            walk.add(
                name,
                "removal-target",
                "a completer never chooses what is removed (present: false); write this field yourself",
            )


def _joined_paths(walk: Walk, spec_model: type[BaseModel], completed: dict[str, Any]) -> None:
    """A path put together from a directory and a name (File) is judged whole."""
    if "directory" not in spec_model.model_fields or "name" not in spec_model.model_fields:
        return
    directory, name = completed.get("directory"), completed.get("name")
    top = _top(walk)
    if not isinstance(directory, str) or not isinstance(name, str) or not {"directory", "name"} & top:
        return
    joined = posixpath.join(directory, name)
    roots = walk.policy.allowed_roots
    if "directory" not in top:
        # The user chose the directory: the completer's name must stay inside it.
        roots = (*roots, directory.rstrip("/") or "/")
    finding = paths.judge(joined, roots)
    if finding is not None:
        where = "name" if "name" in top else "directory"
        walk.add(where, finding.rule, f"directory + name = {finding.message}")


def _accounts(walk: Walk, spec_model: type[BaseModel], completed: dict[str, Any]) -> None:
    """Who root is, is not a completer's to say."""
    if "home" in spec_model.model_fields and completed.get("name") == "root":
        for name in ("home", "shell"):
            if name in _top(walk):
                walk.add(name, "account-root", "a completer may not change the root account; set it yourself")


def _is_proposed(walk: Walk, path: str) -> bool:
    # A proposed list or object covers everything inside it.
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in walk.proposed)


def _walk_model(walk: Walk, model: type[BaseModel], values: dict[str, Any], prefix: str) -> None:
    hints = fields.hints(model)
    for name, info in model.model_fields.items():
        wire = info.alias or name
        if wire not in values or values[wire] is None:
            continue
        _walk_value(walk, hints[name], values[wire], f"{prefix}{wire}")


def _walk_value(walk: Walk, hint: Any, value: Any, path: str) -> None:
    markers, inner = fields.unwrap(hint)
    if markers and _is_proposed(walk, path):
        for marker in markers:
            if isinstance(marker, Guarded):
                RULES[marker](walk, path, value)
    for candidate in inner:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel) and isinstance(value, dict):
            _walk_model(walk, candidate, value, path + ".")
        elif typing.get_origin(candidate) is list and isinstance(value, list):
            (item_hint,) = typing.get_args(candidate) or (Any,)
            for index, item in enumerate(value):
                _walk_value(walk, item_hint, item, f"{path}[{index}]")
        elif typing.get_origin(candidate) is dict and isinstance(value, dict):
            _, item_hint = typing.get_args(candidate) or (Any, Any)
            for key, item in value.items():
                _walk_value(walk, item_hint, item, f"{path}.{key}")


# Values remediation never changes without approval, beyond the review tier: they
# decide what a container can reach, not merely how a failing thing is configured.
SENSITIVE = {Guarded.IMAGE, Guarded.PORT, Guarded.HOST_PATH, Guarded.PRIVILEGED}


def sensitive_fields(spec_model: type[BaseModel]) -> set[str]:
    """Completable fields remediation keeps as they are: the ``review`` tier, and
    those holding (anywhere inside) a sensitive value. Remediation changes only ``safe``."""
    hints = fields.hints(spec_model)
    tiers = fields.tiers(spec_model)
    return {
        wire
        for name, info in spec_model.model_fields.items()
        if (tier := tiers[wire := info.alias or name]) is Tier.REVIEW
        or (tier is Tier.SAFE and _holds(hints[name], SENSITIVE, depth=0))
    }


def _holds(hint: Any, wanted: set[Guarded], depth: int) -> bool:
    markers, inner = fields.unwrap(hint)
    if wanted & set(markers):
        return True
    if depth > 6:
        return False
    for candidate in inner:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            sub = fields.hints(candidate)
            if any(_holds(sub[n], wanted, depth + 1) for n in candidate.model_fields):
                return True
        elif typing.get_origin(candidate) in (list, dict) and any(
            _holds(arg, wanted, depth + 1) for arg in typing.get_args(candidate)
        ):
            return True
    return False


def review(
    spec_model: type[BaseModel], completed: dict[str, Any], proposed: Iterable[str], policy: GuardPolicy
) -> list[ReviewItem]:
    """Review-tier values a completer proposed that no allowlist covers."""
    top = {p.split(".", 1)[0].split("[", 1)[0] for p in proposed}
    tiers = fields.tiers(spec_model)
    traits = fields.traits(spec_model)
    hints = fields.hints(spec_model)
    items: list[ReviewItem] = []
    for name, info in spec_model.model_fields.items():
        wire = info.alias or name
        value = completed.get(wire)
        if wire not in top or tiers[wire] is not Tier.REVIEW or value is None:
            continue
        markers, _ = fields.unwrap(hints[name])
        if _allowlisted(markers, value, policy):
            continue
        secret = Trait.SECRET in traits[wire]
        items.append(
            ReviewItem(
                field=wire,
                shown=_shown(value, secret),
                reason=_why_review(markers, value, policy),
                value=json.dumps(value, sort_keys=True, separators=(",", ":")),
            )
        )
    return items


def review_hash(items: list[ReviewItem]) -> str | None:
    """What an approval of these values is filed under (None: nothing to review)."""
    if not items:
        return None
    canonical = json.dumps(sorted((i.field, i.value) for i in items), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _shown(value: Any, secret: bool) -> str:
    if secret and isinstance(value, dict):
        return "{" + ", ".join(sorted(str(k) for k in value)) + "} (values not shown)"
    if secret:
        return "(not shown)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = redact_url(text) if isinstance(value, str) else text
    return text if len(text) <= 200 else text[:199] + "…"


def _allowlisted(markers: list[Any], value: Any, policy: GuardPolicy) -> bool:
    if Guarded.IMAGE in markers and isinstance(value, str):
        return value in catalogue.IMAGES or image_allowed(value, policy.allowed_registries)
    if Guarded.GIT_URL in markers and isinstance(value, str):
        return git_host_allowed(value, policy.allowed_git_hosts)
    if Guarded.COMMAND in markers and isinstance(value, str):
        return value in policy.allowed_commands
    return False


def _why_review(markers: list[Any], value: Any, policy: GuardPolicy) -> str:
    if Guarded.IMAGE in markers:
        return f"image from {image_repository(str(value)).split('/', 1)[0]}, not in CW_ALLOWED_REGISTRIES"
    if Guarded.GIT_URL in markers:
        return f"repository on {git_host(str(value)) or 'an unknown host'}, not in CW_ALLOWED_GIT_HOSTS"
    if Guarded.COMMAND in markers:
        return "a command that runs on the node, not in CW_ALLOWED_COMMANDS_FILE"
    return "decides what runs or who an account is"
