"""Shared by the benchmarks: repeat, summarise (median and spread), write results.

Each benchmark writes bench/results/NAME.json (every run's numbers) and NAME.md
(a short table), with the date, the machine and the command that reproduces it.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 4),
        "min": round(ordered[0], 4),
        "max": round(ordered[-1], 4),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 4),
        "runs": len(ordered),
    }


def is_ready(obj: dict[str, Any] | None) -> bool:
    """Whether a Clockwork object's status says Ready=True."""
    conditions = ((obj or {}).get("status") or {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}


def write(name: str, command: str, data: dict[str, Any], table: list[tuple[str, ...]], notes: str = "") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    payload = {"benchmark": name, "date": stamp, "machine": machine(), "command": command, **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        f"# {name}",
        "",
        f"{stamp}, {machine()['cpus']} CPUs, Python {machine()['python']}. Reproduce: `{command}`",
        "",
    ]
    header, *rows = table
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if notes:
        lines += ["", notes]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    print(path.read_text(), file=sys.stderr)
    return path
