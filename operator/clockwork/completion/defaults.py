"""Defaults for every kind, and the merge that keeps user values on top.

The merge is the rule of the whole completion layer: a value the user wrote is
never replaced; completers and defaults only fill what is missing, and every filled
leaf is recorded with who filled it.
"""

from __future__ import annotations

import copy
from typing import Any

from clockwork.api.common import CompletionSource, FilledField
from clockwork.api.registry import KindInfo

COMMON_DEFAULTS: dict[str, Any] = {
    "target": {"local": True},
    "runner": "pyinfra",
    "remediation": {"enabled": True, "maxAttempts": 3, "backoffSeconds": 10},
    "completion": {"mode": "auto", "approval": "auto"},
}


def defaults_for(info: KindInfo, name: str | None = None) -> dict[str, Any]:
    """Defaults of a kind; ``name`` (the resource's) names the thing on the node when unset."""
    found = copy.deepcopy(COMMON_DEFAULTS)
    if info.name_field and name:
        found[info.name_field] = name
    # No interval here: the kind default (or CW_CHECK_INTERVAL_DEFAULT) applies when
    # checking, so that changing the global default needs no re-completion.
    found["health"] = {"assertions": []}
    found.update(copy.deepcopy(dict(info.defaults)))
    return found


def merge_missing(
    base: dict[str, Any],
    fill: dict[str, Any],
    source: CompletionSource,
    filled: list[FilledField],
    model: str | None = None,
    prefix: str = "",
) -> dict[str, Any]:
    """``base`` with every leaf of ``fill`` that ``base`` lacks; records what was filled."""
    out = copy.deepcopy(base)
    for key, value in fill.items():
        path = f"{prefix}{key}"
        if key not in out or out[key] is None:
            out[key] = copy.deepcopy(value)
            for leaf in _leaves(value, path):
                filled.append(FilledField(field=leaf, source=source, model=model))
        elif isinstance(out[key], dict) and isinstance(value, dict) and path not in WHOLE:
            out[key] = merge_missing(out[key], value, source, filled, model, f"{path}.")
    return out


# Values filled as a whole or not at all: a target the user gave is complete as it is
# (adding `local: true` beside a nodeSelector would make it say two things).
WHOLE = {"target"}


def _leaves(value: Any, path: str) -> list[str]:
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}")]
    return [path]
