"""Local mode against the sshd lab, as the edge tier's tests drive it: an EdgeNode document for
a lab node, and ``Fleet`` (the `clockwork` command run in the lab's control namespace)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import CLOCKWORK
from tests.support.edge_lab import EdgeLab


def edge_node(lab: EdgeLab, index: int, key: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    """The EdgeNode of lab node ``index`` (labels site=lab, ring=INDEX), quick to go Offline.

    ``key`` says where the private key comes from: the lab's key file (local mode) unless given,
    e.g. ``{"sshKeySecret": {"name": ...}}`` for the operator.
    """
    node = lab.nodes[index]
    return {
        "apiVersion": "clockwork.dev/v1alpha1",
        "kind": "EdgeNode",
        "metadata": {"name": node.name, "labels": {"site": "lab", "ring": str(index)}},
        "spec": {
            "address": node.address,
            **(key or {"sshKeyFile": str(lab.client_key)}),
            "connectTimeoutSeconds": 2,
            "offlineAfter": 1,
            **spec,
        },
    }


class Fleet:
    def __init__(self, lab: EdgeLab, workdir: Path) -> None:
        self.lab = lab
        self.workdir = workdir
        self.manifest = workdir / "fleet.yaml"

    def write(self, *docs: dict[str, Any]) -> None:
        self.manifest.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))

    def run(self, *args: str, timeout: float = 120) -> tuple[int, Any, str, float]:
        started = time.monotonic()
        proc = subprocess.run(
            self.lab.control([CLOCKWORK, *args, "-f", str(self.manifest), "-o", "json"]),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = json.loads(proc.stdout) if proc.stdout.strip().startswith("[") else proc.stdout
        return proc.returncode, output, proc.stderr, time.monotonic() - started


def by_ref(outcomes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["resource"]: o for o in outcomes}
