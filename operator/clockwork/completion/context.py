"""What a model may see of resources: names and shapes of secrets, never their values.

Both the resource being completed (``userSpec`` in the prompt) and the related
resources given as context pass through :func:`shown_spec`: fields marked
:attr:`~clockwork.api.types.Trait.SECRET` on their types (environment values, file
content, templates and their variables, entry-point parameters) are replaced by
their shape, every URL loses its password, and long text is cut. A resource whose
owner switched completion off contributes its kind and name only.
"""

from __future__ import annotations

from typing import Any

from clockwork.api import fields
from clockwork.api.registry import KINDS
from clockwork.api.types import Trait
from clockwork.text import redact_url

TEXT_LIMIT = 300


def shown_spec(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (wire form) as a model may see it."""
    info = KINDS.get(kind)
    traits = fields.traits(info.spec_model) if info is not None else {}
    return {
        key: _shape(value) if Trait.SECRET in traits.get(key, ()) else _public(value) for key, value in spec.items()
    }


def related(kind: str, name: str, spec: dict[str, Any], *, dependency: bool = False) -> dict[str, Any]:
    """One entry of a completion's related resources."""
    entry: dict[str, Any] = {"kind": kind, "name": name}
    if dependency:
        entry["dependency"] = True
    completion = spec.get("completion")
    if isinstance(completion, dict) and completion.get("mode") == "off":
        return entry  # its owner keeps it away from models
    entry["spec"] = shown_spec(kind, spec)
    return entry


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): "(secret)" for k in value}
    if isinstance(value, str):
        return f"(secret: {len(value)} characters)"
    if isinstance(value, list):
        return f"(secret: {len(value)} items)"
    return "(secret)"


def _public(value: Any) -> Any:
    if isinstance(value, str):
        value = redact_url(value)
        return value if len(value) <= TEXT_LIMIT else value[:TEXT_LIMIT] + "…"
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value
