"""What a real API server does with a CRD's structural schema, for tests.

``validator()`` turns an ``openAPIV3Schema`` into a JSON-schema validator (OpenAPI's
``nullable`` becomes a ``null`` type; ``x-kubernetes-int-or-string`` an either-or),
and ``pruned_paths()`` lists the fields an API server would silently drop because
the schema does not declare them. Both are used to prove that what Clockwork writes
survives a real API server, and (later) by the Kubernetes API emulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"


def load_crds(crd_dir: Path = CRD_DIR) -> dict[str, dict[str, Any]]:
    """Kind -> CRD document."""
    crds = {}
    for path in sorted(crd_dir.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        crds[crd["spec"]["names"]["kind"]] = crd
    return crds


def openapi_schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def to_jsonschema(node: Any) -> Any:
    if isinstance(node, list):
        return [to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_jsonschema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [*([out["type"]] if isinstance(out["type"], str) else out["type"]), "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if "properties" in out:
        out["properties"] = {k: to_jsonschema(v) for k, v in node["properties"].items()}
    return out


def validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    converted = to_jsonschema(schema)
    cls = jsonschema.validators.validator_for(converted, default=jsonschema.Draft7Validator)
    return cls(converted, format_checker=jsonschema.FormatChecker())


def errors(schema: dict[str, Any], value: Any) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator(schema).iter_errors(value)
    ]


def pruned_paths(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Fields of ``value`` that a structural schema does not declare (an API server drops them)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            where = f"{path}.{key}" if path else key
            if path == "" and key == "metadata":
                continue  # ObjectMeta has its own rules, outside the CRD schema
            if props is not None and key in props:
                found += pruned_paths(props[key], sub, where)
            elif isinstance(extra, dict):
                found += pruned_paths(extra, sub, where)
            else:
                found.append(where)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += pruned_paths(schema["items"], item, f"{path}[{index}]")
    return found
