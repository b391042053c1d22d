"""Rollout in local mode across 4 real sshd edge nodes, in batches of 2.

Success path (v1, then v2 with every node's previous version recorded); a health
gate that fails in batch 2 rolls batches 1 and 2 back to the previous version (the
nodes' files say so, and what the failed version added is removed); with
autoRollback false the rollout stops Failed and leaves the nodes as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.edge.fleet import Fleet, by_ref, edge_node
from tests.support.edge_lab import EdgeLab, isolated_lab

pytestmark = pytest.mark.integration


@pytest.fixture
def lab4() -> Iterator[EdgeLab]:
    with isolated_lab(4) as lab:
        yield lab


def rollout(version: str, *, extra: bool = False, gate: bool = False, auto_rollback: bool = True) -> dict[str, Any]:
    resources: list[dict[str, Any]] = [
        {"kind": "File", "name": "app-version", "spec": {"path": "/srv/app/version", "content": f"{version}\n"}}
    ]
    if extra:
        resources.append({"kind": "File", "name": "app-extra", "spec": {"path": "/srv/app/extra", "content": "x"}})
    spec: dict[str, Any] = {"nodeSelector": {"site": "lab"}, "version": version, "resources": resources,
                            "strategy": {"batchSize": 2}, "autoRollback": auto_rollback}  # fmt: skip
    if gate:  # only batch 1's nodes carry the marker: batch 2 fails its gate
        spec["healthGate"] = {"timeoutSeconds": 3, "intervalSeconds": 1,
                              "assertions": [{"type": "fileExists", "path": "/srv/ready-marker"}]}  # fmt: skip
    return {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Rollout", "metadata": {"name": "app"}, "spec": spec}


def versions(lab: EdgeLab) -> list[str]:
    return [n.path("/srv/app/version").read_text().strip() if n.path("/srv/app/version").exists() else "-"
            for n in lab.nodes]  # fmt: skip


def test_batches_gate_and_rollback(lab4: EdgeLab, workdir: Path) -> None:
    fleet = Fleet(lab4, workdir)
    nodes = [edge_node(lab4, i) for i in range(4)]

    fleet.write(*nodes, rollout("v1"))
    code, outcomes, stderr, seconds = fleet.run("apply", timeout=300)
    assert code == 0, (outcomes, stderr)
    status = by_ref(outcomes)["Rollout/default/app"]["status"]
    assert status["phase"] == "Completed" and status["batches"] == 2
    assert [(n["name"], n["state"], n["batch"], n["version"]) for n in status["nodes"]] == [
        ("node-0", "healthy", 1, "v1"), ("node-1", "healthy", 1, "v1"),
        ("node-2", "healthy", 2, "v1"), ("node-3", "healthy", 2, "v1"),
    ]  # fmt: skip
    assert versions(lab4) == ["v1"] * 4

    fleet.write(*nodes, rollout("v2"))
    code, outcomes, _, _ = fleet.run("apply", timeout=300)
    assert code == 0
    assert {n["previousVersion"] for n in by_ref(outcomes)["Rollout/default/app"]["status"]["nodes"]} == {"v1"}
    assert versions(lab4) == ["v2"] * 4

    for node in lab4.nodes[:2]:
        node.path("/srv/ready-marker").write_text("ok")
    fleet.write(*nodes, rollout("v3", extra=True, gate=True))
    code, outcomes, _, _ = fleet.run("apply", timeout=300)
    assert code == 1
    result = by_ref(outcomes)["Rollout/default/app"]
    status = result["status"]
    assert status["phase"] == "RolledBack", result["message"]
    assert "batch 2 failed" in result["message"] and "/srv/ready-marker does not exist" in result["message"]
    assert [(n["state"], n["version"]) for n in status["nodes"]] == [("rolledBack", "v2")] * 4
    assert versions(lab4) == ["v2"] * 4
    assert not any(n.path("/srv/app/extra").exists() for n in lab4.nodes)
    reasons = [e["reason"] for e in result["events"]]
    assert reasons[:2] == ["Started", "BatchStarted"] and "BatchFailed" in reasons and reasons[-1] == "RolledBack"

    fleet.write(*nodes, rollout("v4", gate=True, auto_rollback=False))
    code, outcomes, _, _ = fleet.run("apply", timeout=300)
    assert code == 1
    status = by_ref(outcomes)["Rollout/default/app"]["status"]
    assert status["phase"] == "Failed"
    assert [n["state"] for n in status["nodes"]] == ["healthy", "healthy", "failed", "failed"]
    assert versions(lab4) == ["v4"] * 4  # applied, failed the gate, left as it is
    print(f"\nrollout v1 to 4 nodes in 2 batches: {seconds:.2f}s")
