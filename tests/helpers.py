"""Small builders shared by tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def write_resources(path: Path, *docs: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return path


def file_resource(name: str, /, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "clockwork.dev/v1alpha1",
        "kind": "File",
        "metadata": {"name": name},
        "spec": spec,
    }
