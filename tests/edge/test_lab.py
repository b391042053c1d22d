"""The edge lab itself: nodes are reachable, isolated, and fail the way real ones do.

Covers: ssh with the lab key and strict host keys; a file written on one node is
absent on another and visible from the host; a stopped sshd refuses at once;
dropped packets time out at the connect timeout; a changed host key is refused;
teardown leaves no namespaces or processes.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.support.edge_lab import EdgeLab, edge_lab

pytestmark = pytest.mark.integration


def test_nodes_are_reachable_and_isolated(isolated_lab3: EdgeLab) -> None:
    lab3 = isolated_lab3
    a, b, _ = lab3.nodes
    for node in lab3.nodes:
        assert lab3.ssh(node, "echo ok").stdout.strip() == "ok"
    assert lab3.ssh(a, "echo only-a > /srv/mark").returncode == 0
    assert a.path("/srv/mark").read_text() == "only-a\n"
    assert not b.path("/srv/mark").exists()
    assert lab3.ssh(b, "test -e /srv/mark").returncode == 1


def test_stopped_sshd_refuses_at_once(lab3: EdgeLab) -> None:
    node = lab3.nodes[0]
    node.stop_sshd()
    started = time.monotonic()
    result = lab3.ssh(node, "true", timeout=5)
    assert result.returncode != 0
    assert "refused" in result.stderr.lower()
    assert time.monotonic() - started < 3
    node.start_sshd()
    assert lab3.ssh(node, "cat /srv/../srv/. >/dev/null; echo back").stdout.strip() == "back"


def test_dropped_packets_time_out_at_the_connect_timeout(lab3: EdgeLab) -> None:
    node = lab3.nodes[1]
    node.drop_packets()
    started = time.monotonic()
    result = lab3.ssh(node, "true", timeout=2)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert 1.5 < elapsed < 6
    node.restore_packets()
    assert lab3.ssh(node, "echo ok").stdout.strip() == "ok"


def test_changed_host_key_is_refused(lab3: EdgeLab) -> None:
    node = lab3.nodes[2]
    old = node.known_hosts_line()
    node.change_host_key()
    known = lab3.dir / "stale_known_hosts"
    known.write_text(old + "\n")
    argv = [
        "ssh",
        "-i",
        str(lab3.client_key),
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={known}",
        "-o",
        "StrictHostKeyChecking=yes",
        f"root@{node.address}",
        "true",
    ]
    result = subprocess.run(lab3.control(argv), capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert "HOST IDENTIFICATION HAS CHANGED" in result.stderr or "verification failed" in result.stderr


def test_teardown_leaves_nothing() -> None:
    reason = EdgeLab.available()
    if reason:
        pytest.skip(reason)
    with edge_lab(2) as lab:
        pids = [p.pid for n in lab.nodes for p in (n.holder, n.sshd) if p is not None]
        namespaces = [lab.control_ns, *(n.namespace for n in lab.nodes)] if lab.mode == "netns" else []
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(ns in listed for ns in namespaces)
    for pid in pids:
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text().lower()
    assert not lab.dir.exists()


def test_loopback_fallback_where_namespaces_are_not_allowed() -> None:
    reason = EdgeLab.available()
    if reason:
        pytest.skip(reason)
    with edge_lab(2, mode="loopback") as lab:
        first, second = lab.nodes
        assert first.address.startswith("127.")
        assert lab.ssh(first, "echo ok").stdout.strip() == "ok"
        second.stop_sshd()
        assert "refused" in lab.ssh(second, "true", timeout=3).stderr.lower()
        first.drop_packets()
        started = time.monotonic()
        assert lab.ssh(first, "true", timeout=2).returncode != 0
        assert 1.5 < time.monotonic() - started < 6
        first.restore_packets()
        assert lab.ssh(first, "echo back").stdout.strip() == "back"
