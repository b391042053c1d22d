"""Local mode against real sshd nodes: EdgeNodes, fan-out by label, failures, host keys.

The `clockwork` command runs inside the lab's control namespace (where the nodes
are). Covers: a File to 3 nodes by label, idempotent re-apply; a stopped sshd makes
that node Offline and skipped while the others stay Ready, without hanging; dropped
packets time out at the node's connect timeout; the node comes back and converges;
a changed host key is refused with a clear condition; the private key never shows
up in output or state; a node leaving the selector gets its file removed.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.edge.fleet import Fleet, by_ref, edge_node
from tests.support.edge_lab import EdgeLab

pytestmark = pytest.mark.integration


def motd(selector: dict[str, str], content: str = "hello fleet\n") -> dict[str, Any]:
    return {
        "apiVersion": "clockwork.dev/v1alpha1",
        "kind": "File",
        "metadata": {"name": "motd"},
        "spec": {"path": "/srv/motd", "content": content, "target": {"nodeSelector": selector}},
    }


@pytest.fixture
def fleet(lab3: EdgeLab, workdir: Path) -> Fleet:
    return Fleet(lab3, workdir)


def test_file_to_three_nodes_by_label_and_idempotent(fleet: Fleet) -> None:
    lab = fleet.lab
    fleet.write(*(edge_node(lab, i) for i in range(3)), motd({"site": "lab"}))
    code, outcomes, stderr, seconds = fleet.run("apply")
    assert code == 0, (outcomes, stderr)
    found = by_ref(outcomes)
    assert found["EdgeNode/default/node-0"]["status"]["phase"] == "Online"
    assert found["EdgeNode/default/node-0"]["status"]["facts"]["cpus"] >= 1
    assert found["EdgeNode/default/node-0"]["status"]["hostKey"].split()[1:] == lab.nodes[0].public_host_key().split()
    assert [n["name"] for n in found["File/default/motd"]["status"]["nodes"]] == ["node-0", "node-1", "node-2"]
    for node in lab.nodes:
        assert node.path("/srv/motd").read_text() == "hello fleet\n"
    code, outcomes, _, again = fleet.run("apply")
    assert code == 0
    assert by_ref(outcomes)["File/default/motd"]["changed"] is False
    print(f"\nlocal mode, 3 EdgeNodes + File: first apply {seconds:.2f}s, idempotent {again:.2f}s")


def test_stopped_node_is_skipped_others_stay_ready_then_converges(fleet: Fleet, isolated_lab3: EdgeLab) -> None:
    lab = fleet.lab
    fleet.write(*(edge_node(lab, i) for i in range(3)), motd({"site": "lab"}))
    assert fleet.run("apply")[0] == 0
    fleet.write(*(edge_node(lab, i) for i in range(3)), motd({"site": "lab"}, "v2\n"))
    lab.nodes[1].stop_sshd()
    code, outcomes, _, seconds = fleet.run("apply")
    assert code == 1
    assert seconds < 60
    found = by_ref(outcomes)
    assert found["EdgeNode/default/node-1"]["status"]["phase"] == "Offline"
    file_status = found["File/default/motd"]["status"]
    nodes = {n["name"]: n for n in file_status["nodes"]}
    assert nodes["node-1"]["lastResult"] == "skipped"
    assert "Offline" in nodes["node-1"]["message"]
    assert lab.nodes[0].path("/srv/motd").read_text() == "v2\n"
    assert lab.nodes[2].path("/srv/motd").read_text() == "v2\n"
    assert lab.nodes[1].path("/srv/motd").read_text() == "hello fleet\n"  # untouched, kept its state
    applied = next(c for c in file_status["conditions"] if c["type"] == "Applied")
    assert applied["reason"] == "NodesUnavailable"

    lab.nodes[1].start_sshd()
    code, outcomes, _, _ = fleet.run("apply")
    assert code == 0, outcomes
    assert lab.nodes[1].path("/srv/motd").read_text() == "v2\n"


def test_dropped_packets_time_out_at_the_connect_timeout(fleet: Fleet) -> None:
    lab = fleet.lab
    fleet.write(edge_node(lab, 0), motd({"ring": "0"}))
    assert fleet.run("apply")[0] == 0
    lab.nodes[0].drop_packets()
    code, outcomes, _, seconds = fleet.run("apply")
    assert code == 1
    assert seconds < 30, seconds  # 2 s connect timeout, no hang
    node = by_ref(outcomes)["EdgeNode/default/node-0"]["status"]
    assert node["phase"] == "Offline"
    assert node["consecutiveFailures"] == 1
    lab.nodes[0].restore_packets()
    assert fleet.run("apply")[0] == 0


def test_changed_host_key_is_refused(fleet: Fleet) -> None:
    lab = fleet.lab
    fleet.write(edge_node(lab, 2), motd({"ring": "2"}))
    assert fleet.run("apply")[0] == 0
    lab.nodes[2].change_host_key()
    code, outcomes, _, _ = fleet.run("apply")
    assert code == 1
    node = by_ref(outcomes)["EdgeNode/default/node-2"]["status"]
    trusted = next(c for c in node["conditions"] if c["type"] == "HostKeyTrusted")
    assert trusted["status"] == "False"
    assert trusted["reason"] == "HostKeyChanged"
    assert "spec.hostKey.knownHosts" in trusted["message"]
    events = [e["reason"] for e in by_ref(outcomes)["EdgeNode/default/node-2"]["events"]]
    assert "HostKeyChanged" in events

    # Trusting the new key explicitly lets it through again.
    fleet.write(edge_node(lab, 2, hostKey={"knownHosts": [lab.nodes[2].public_host_key()]}), motd({"ring": "2"}))
    assert fleet.run("apply")[0] == 0


def test_private_key_never_shows_up(fleet: Fleet) -> None:
    lab = fleet.lab
    fleet.write(*(edge_node(lab, i) for i in range(2)), motd({"site": "lab"}))
    lab.nodes[1].stop_sshd()
    code, outcomes, stderr, _ = fleet.run("apply")
    assert code == 1  # node-1 is down: not Ready
    key_lines = [line for line in lab.client_key.read_text().splitlines() if line and "PRIVATE KEY" not in line]
    state = sqlite3.connect(fleet.workdir / ".clockwork" / "state.db")
    dumped = "\n".join(str(row) for row in state.execute("SELECT * FROM resources"))
    state.close()
    everything = json.dumps(outcomes) + stderr + dumped
    assert not any(line in everything for line in key_lines)


def test_node_leaving_the_selector_gets_its_file_removed(fleet: Fleet, isolated_lab3: EdgeLab) -> None:
    lab = fleet.lab
    fleet.write(*(edge_node(lab, i) for i in range(3)), motd({"site": "lab"}))
    assert fleet.run("apply")[0] == 0
    fleet.write(*(edge_node(lab, i) for i in range(3)), motd({"ring": "0"}))
    code, outcomes, _, _ = fleet.run("apply")
    assert code == 0, outcomes
    assert lab.nodes[0].path("/srv/motd").exists()
    assert not lab.nodes[1].path("/srv/motd").exists()
    assert not lab.nodes[2].path("/srv/motd").exists()
    assert [n["name"] for n in by_ref(outcomes)["File/default/motd"]["status"]["nodes"]] == ["node-0"]
