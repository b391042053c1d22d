"""Clockwork's own small error hierarchy.

Permanent errors (bad input, rejected completions) will not go away by retrying;
temporary errors (an unreachable node, a model endpoint timing out) may. Every
message names the resource, the field and what to do.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from pydantic import ValidationError


class ClockworkError(Exception):
    """Base of every error Clockwork raises on purpose."""


class PermanentError(ClockworkError):
    """Retrying will not help: the input or the configuration must change."""


class TemporaryError(ClockworkError):
    """Worth retrying later: a node, a socket or an endpoint was not there."""


class InvalidResource(PermanentError):
    """A resource document does not satisfy its kind's rules."""

    def __init__(self, where: str, problems: Sequence[str]) -> None:
        self.where = where
        self.problems = list(problems)
        super().__init__(f"{where}: " + "; ".join(self.problems))


def describe_validation_error(error: ValidationError, prefix: str = "", union_tags: Collection[str] = ()) -> list[str]:
    """One line per problem: the dotted field path, the rule and the offending value.

    ``union_tags`` are discriminator values (``command``) that Pydantic puts into
    error locations of tagged unions; they are noise for people and dropped.
    """
    lines: list[str] = []
    for item in error.errors(include_url=False):
        loc = ".".join(str(part) for part in item["loc"] if part not in union_tags)
        field = f"{prefix}.{loc}" if prefix and loc else (loc or prefix or "<document>")
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            msg = "unknown field (not part of this kind's schema; check spelling and nesting)"
        elif item["type"] == "missing":
            msg = "required field is missing"
        shown = item.get("input")
        if item["type"] in ("string_pattern_mismatch", "literal_error", "string_type", "int_type"):
            msg += f" (got {shown!r})"
        lines.append(f"{field}: {msg}")
    return lines
