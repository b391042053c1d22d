"""Every cross-field rule is declared once, written into the CRDs, and agrees with its model.

The Python side of tests/support/cel_cases.py: local mode (``parse_resource``) refuses each broken
case with the rule's message and accepts each good one. tests/cluster/test_cel_validation.py runs
the same table against a real API server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from clockwork import crdgen
from clockwork.api import parse_resource
from clockwork.api.registry import ALL_KINDS
from clockwork.cel import CelRule, rules_of
from clockwork.errors import InvalidResource
from clockwork.model import CWModel
from tests.support.cel_cases import CASES, Case, document


def _models(base: type[CWModel]) -> Iterator[type[CWModel]]:
    for sub in base.__subclasses__():
        yield sub
        yield from _models(sub)


def declared_rules() -> set[CelRule]:
    import clockwork.api  # noqa: F401  (every kind's module, so every model is a subclass by now)

    return {rule for model in _models(CWModel) for rule in rules_of(model)}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_local_mode_agrees(case: Case) -> None:
    doc = document(case, "x", "default")
    if case.broken:
        with pytest.raises(InvalidResource) as info:
            parse_resource(doc)
        assert any(p.endswith(f": {case.expected}") for p in info.value.problems), info.value.problems
    else:
        parse_resource(doc)


def test_every_rule_has_a_broken_and_a_good_case() -> None:
    rules = declared_rules()
    assert len(rules) >= 14
    for rule in rules:
        kinds = {c.broken for c in CASES if c.rule == rule}
        assert kinds == {True, False}, f"{rule.message!r}: needs a broken and a good case in cel_cases.py"
    assert {c.rule for c in CASES} <= rules


def test_every_rule_is_in_a_crd_and_status_carries_none() -> None:
    crds = {
        info.kind: crdgen.crd_for(info)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for info in ALL_KINDS.values()
    }
    specs = json.dumps({k: s["properties"]["spec"] for k, s in crds.items()})
    for rule in declared_rules():
        assert json.dumps(rule.message) in specs, f"{rule.message!r} is in no CRD"
    for kind, schema in crds.items():
        assert "x-kubernetes-validations" not in json.dumps(schema["properties"]["status"]), kind


def test_union_variant_rules_are_guarded_by_their_tag() -> None:
    spec = crdgen.crd_for(ALL_KINDS["File"])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = spec["properties"]["health"]["properties"]["assertions"]["items"]["x-kubernetes-validations"]
    assert [r["rule"].split(" || ")[0] for r in rules] == ["self.type != 'logContains'", "self.type != 'fileContent'"]
