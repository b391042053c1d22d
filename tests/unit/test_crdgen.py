"""CRDs are generated from the models, structural, valid, and in sync with crds/.

Covers: the JSON-schema -> structural converter case by case; the checked-in
crds/ equal `clockwork crds` byte for byte; kubernetes-validate --strict accepts
every CRD; every example under manifests/examples/ validates against its CRD; a
status the reconcile core writes is valid and loses nothing to pruning.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from clockwork import crdgen
from clockwork.api.registry import ALL_KINDS
from tests.support import k8s_schema

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests" / "examples"


# --- converter ---------------------------------------------------------------------


def test_refs_are_inlined_and_optionals_become_nullable() -> None:
    schema = {
        "$defs": {"Inner": {"title": "Inner", "type": "object", "properties": {"a": {"type": "string"}}}},
        "type": "object",
        "title": "Outer",
        "properties": {
            "inner": {"anyOf": [{"$ref": "#/$defs/Inner"}, {"type": "null"}], "default": None},
            "count": {"type": "integer", "exclusiveMinimum": 0},
            "kind": {"const": "A", "type": "string"},
        },
        "additionalProperties": False,
    }
    out = crdgen.to_structural(schema)
    assert out == {
        "type": "object",
        "properties": {
            "inner": {"type": "object", "nullable": True, "properties": {"a": {"type": "string"}}},
            "count": {"type": "integer", "exclusiveMinimum": True, "minimum": 0},
            "kind": {"type": "string", "enum": ["A"]},
        },
    }
    assert crdgen.structural_problems(out) == []


def test_tagged_union_becomes_one_object_with_merged_tags() -> None:
    schema = {
        "oneOf": [
            {
                "type": "object",
                "properties": {"type": {"const": "a"}, "x": {"type": "string"}},
                "required": ["type", "x"],
            },
            {
                "type": "object",
                "properties": {"type": {"const": "b"}, "y": {"type": "integer"}},
                "required": ["type"],
            },
        ],
        "discriminator": {"propertyName": "type"},
    }
    out = crdgen.to_structural(schema)
    assert out["properties"]["type"] == {"type": "string", "enum": ["a", "b"]}
    assert set(out["properties"]) == {"type", "x", "y"}
    assert out["required"] == ["type"]


def test_any_and_int_or_string_are_expressible() -> None:
    assert crdgen.to_structural({}) == {"x-kubernetes-preserve-unknown-fields": True}
    both = crdgen.to_structural({"anyOf": [{"type": "integer"}, {"type": "string"}]})
    assert both == {"x-kubernetes-int-or-string": True}
    free = crdgen.to_structural({"type": "object", "additionalProperties": True})
    assert free == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def test_recursive_schemas_are_refused() -> None:
    schema = {
        "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
        "$ref": "#/$defs/N",
    }
    with pytest.raises(crdgen.SchemaConversionError, match="recursive"):
        crdgen.to_structural(schema)


def test_structural_check_finds_violations() -> None:
    bad = {"type": "object", "properties": {"a": {"title": "A"}}, "additionalProperties": {"type": "string"}}
    problems = crdgen.structural_problems(bad)
    assert any("mutually exclusive" in p for p in problems)
    assert any(".a: no type" in p for p in problems)
    assert any("keys not allowed" in p for p in problems)


# --- generated files -------------------------------------------------------------------


def test_checked_in_crds_equal_generated() -> None:
    generated = crdgen.generate()
    on_disk = {p.name: p.read_text() for p in (REPO / "crds").glob("*.yaml")}
    assert set(on_disk) == set(generated), "run `make generate`"
    for name, text in generated.items():
        assert on_disk[name] == text, f"crds/{name} drifted from the models: run `make generate`"


def test_cli_crds_prints_the_same_documents() -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("clockwork")), "crds"], capture_output=True, text=True, check=True
    )
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert [d["metadata"]["name"] for d in docs] == [f"{i.plural}.clockwork.dev" for i in ALL_KINDS.values()]


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_crd_is_structural_and_valid_for_kubernetes(kind: str) -> None:
    crd = k8s_schema.load_crds()[kind]
    assert crdgen.structural_problems(k8s_schema.openapi_schema(crd)) == []
    kubernetes_validate.validate(crd, "1.33.0", strict=True)
    names = crd["spec"]["names"]
    assert names["categories"] == ["clockwork"]
    assert names["shortNames"]
    columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == [c.name for c in ALL_KINDS[kind].printer_columns]
    assert columns[-1] == "Age"
    assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}


def test_strict_validation_would_catch_a_bad_crd() -> None:
    crd = k8s_schema.load_crds()["File"]
    broken = {**crd, "spec": {**crd["spec"], "scoop": "Namespaced"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.33.0", strict=True)


def _examples() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc:
                found.append((f"{path.name}#{index}", doc))
    return found


@pytest.mark.parametrize(("where", "doc"), _examples(), ids=[w for w, _ in _examples()])
def test_examples_validate_against_their_crd(where: str, doc: dict[str, Any]) -> None:
    schema = k8s_schema.openapi_schema(k8s_schema.load_crds()[doc["kind"]])
    assert k8s_schema.errors(schema, doc) == []
    assert k8s_schema.pruned_paths(schema, doc) == []


def test_example_validation_can_fail() -> None:
    schema = k8s_schema.openapi_schema(k8s_schema.load_crds()["File"])
    doc = {"apiVersion": "clockwork.dev/v1alpha1", "kind": "File", "metadata": {"name": "x"},
           "spec": {"path": "relative", "mode": 644, "extra": 1}}  # fmt: skip
    assert any("spec.mode" in e for e in k8s_schema.errors(schema, doc))
    assert any(e.startswith("spec.path") for e in k8s_schema.errors(schema, doc))
    assert k8s_schema.pruned_paths(schema, doc) == ["spec.extra"]
