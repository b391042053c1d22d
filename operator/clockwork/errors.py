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


# What each field pattern means in words, registered where the pattern is declared.
_PATTERN_RULES: dict[str, str] = {}


def pattern_rule(pattern: str, rule: str) -> str:
    """Register the rule ``pattern`` stands for (in words) and give the pattern back.

    The pattern stays in the schema (the CRD, and so the API server, enforces it),
    but "String should match pattern '^/'" tells a person nothing: messages say
    ``rule`` instead.
    """
    _PATTERN_RULES[pattern] = rule
    return pattern


def _pattern_message(pattern: str, value: object) -> str:
    """The rule a value broke, in words. Every path pattern starts with ``^/``: a value
    without that slash broke the part that matters, whatever else the pattern says."""
    if pattern.startswith("^/") and isinstance(value, str) and not value.startswith("/"):
        return "must be an absolute path (starting with '/')"
    return _PATTERN_RULES.get(pattern, f"must match the pattern {pattern}")


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
        if item["type"] == "string_pattern_mismatch":
            msg = _pattern_message(str((item.get("ctx") or {}).get("pattern", "")), shown)
        if item["type"] in ("string_pattern_mismatch", "literal_error", "string_type", "int_type"):
            msg += f" (got {shown!r})"
        lines.append(f"{field}: {msg}")
    return lines
