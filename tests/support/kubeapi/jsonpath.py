"""The JSONPath subset CRD printer columns use: ``.a.b``, ``[0]``, ``[?(@.k=="v")]``, ``[*]``."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\*\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]")


def evaluate(path: str, value: Any) -> list[Any]:
    """Every match of ``path`` in ``value`` (an empty list when nothing matches)."""
    current = [value]
    position = 0
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath at {path[position:]!r} in {path!r}")
        key, index, filter_key, filter_value = match.groups()
        found: list[Any] = []
        for item in current:
            if key is not None and isinstance(item, dict) and key in item:
                found.append(item[key])
            elif index is not None and isinstance(item, list) and int(index) < len(item):
                found.append(item[int(index)])
            elif match.group(0) == "[*]" and isinstance(item, list):
                found.extend(item)
            elif filter_key is not None and isinstance(item, list):
                found.extend(e for e in item if isinstance(e, dict) and _dig(e, filter_key) == filter_value)
        current = found
        position = match.end()
    return current


def _dig(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
