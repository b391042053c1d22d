"""The base of every model that crosses a boundary, and the one clock.

Kept outside :mod:`clockwork.api` so that light modules (the worker's plan
contract) can use it without importing every kind.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from clockwork.cel import add_validations


class CWModel(BaseModel):
    """Strict camelCase model: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        # Python code may build models by field name; user input is parsed with
        # ``by_name=False`` (see :func:`clockwork.api.parse_resource`).
        validate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
        frozen=False,
        # Cross-field rules (``__cel_rules__``) into the schema, for the CRDs.
        json_schema_extra=add_validations,
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-compatible wire form (camelCase, no unset/None fields)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def utcnow() -> datetime:
    """Now, in UTC, truncated to whole seconds as metav1.Time serialises it."""
    return datetime.now(UTC).replace(microsecond=0)
