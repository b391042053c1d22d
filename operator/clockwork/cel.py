"""Cross-field rules the API server enforces too: CEL next to the model that checks them.

A model lists its rules in ``__cel_rules__``; its ``model_validator`` raises
``rule.message`` when the rule is broken, and :mod:`clockwork.crdgen` writes each
rule into the model's schema as ``x-kubernetes-validations``, so a bad object is
refused by ``kubectl apply`` with the message local mode gives. ``rule`` is a CEL
expression over ``self`` (the object of that model, wire names); a rule of a
tagged-union variant is guarded by the variant's tag when the union is merged.

tests/unit/test_cel_rules.py holds a table of examples every rule must agree on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


@dataclass(frozen=True)
class CelRule:
    rule: str
    message: str
    # CEL building the message from the object, when the Python side names values too.
    message_expression: str | None = None

    def check(self, broken: bool) -> None:
        """Raise the rule's message when ``broken`` (the Python side of the same rule)."""
        if broken:
            raise ValueError(self.message)

    def validation(self) -> dict[str, str]:
        """The ``x-kubernetes-validations`` entry."""
        entry = {"rule": self.rule, "message": self.message}
        if self.message_expression is not None:
            entry["messageExpression"] = self.message_expression
        return entry


def rules_of(model: type[Any]) -> tuple[CelRule, ...]:
    """The rules a model class declares or inherits, in MRO order (base rules first)."""
    seen: list[CelRule] = []
    for klass in reversed(model.__mro__):
        for rule in vars(klass).get("__cel_rules__", ()):
            if rule not in seen:
                seen.append(rule)
    return tuple(seen)


def add_validations(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """``json_schema_extra`` of every model: its rules as ``x-kubernetes-validations``."""
    rules = rules_of(model)
    if rules:
        schema["x-kubernetes-validations"] = [r.validation() for r in rules]
