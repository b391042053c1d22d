"""The PyInfra worker over real SSH to lab nodes (the worker runs in the control namespace).

Covers: a file to 3 nodes, idempotent re-run; a stopped sshd fails that node only,
at once; dropped packets time out at the connect timeout and no later; trust on
first use learns a key and a changed key is then refused; key files never outlive
the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

import pytest

from clockwork.plan import CommandProbe, HostSpec, Operation, RunRequest, RunResult
from clockwork.runners.pyinfra import PyinfraRunner
from tests.support.edge_lab import EdgeLab, EdgeNode

pytestmark = pytest.mark.integration


def host(lab: EdgeLab, node: EdgeNode, **kw: object) -> HostSpec:
    defaults: dict[str, object] = {
        "name": node.name,
        "connector": "ssh",
        "address": node.address,
        "private_key": lab.client_key.read_text(),
        "known_hosts": [node.public_host_key()],
    }
    return HostSpec.model_validate({**defaults, **kw})


def put(path: str, content: str) -> Operation:
    return Operation(id="put", op="clockwork.put", args={"dest": path, "content": content, "mode": "0644"})


def run(lab: EdgeLab, request: RunRequest) -> RunResult:
    return asyncio.run(PyinfraRunner(prefix=lab.control([])).run(request))


@pytest.fixture
def own_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own temporary folder for the runner and its worker: another Clockwork
    on this machine makes its key folders elsewhere, and cannot be mistaken for ours."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))  # gettempdir() is cached
    return folder


def key_folders(folder: Path) -> list[Path]:
    return sorted(folder.glob("clockwork-worker-*"))


def test_file_to_three_nodes_then_idempotent(lab3: EdgeLab, own_tmp: Path) -> None:
    hosts = [host(lab3, n) for n in lab3.nodes]
    started = time.monotonic()
    first = run(lab3, RunRequest(hosts=hosts, operations=[put("/srv/app/motd", "hello\n")]))
    first_seconds = time.monotonic() - started
    assert first.ok, first.model_dump_json()
    assert [h.outcome for h in first.hosts] == ["changed"] * 3
    for node in lab3.nodes:
        assert node.path("/srv/app/motd").read_text() == "hello\n"
    started = time.monotonic()
    second = run(lab3, RunRequest(hosts=hosts, operations=[put("/srv/app/motd", "hello\n")]))
    second_seconds = time.monotonic() - started
    assert [h.outcome for h in second.hosts] == ["ok"] * 3
    print(f"\n3-node File deploy: first {first_seconds:.2f}s, idempotent {second_seconds:.2f}s")
    assert key_folders(own_tmp) == [], "key files must not outlive the run"


def test_key_files_are_removed_even_when_the_worker_is_killed(lab3: EdgeLab, own_tmp: Path) -> None:
    slow = RunRequest(hosts=[host(lab3, lab3.nodes[0])], probes=[CommandProbe(id="s", command="sleep 30")],
                      timeout_seconds=60)  # fmt: skip
    runner = PyinfraRunner(prefix=lab3.control([]))
    seen: list[Path] = []

    async def cancel_midway() -> None:
        task = asyncio.ensure_future(runner.run(slow))
        # Midway: the worker has written its files (known_hosts stays until the run ends).
        deadline = time.monotonic() + 30
        while not any(f.is_file() for d in key_folders(own_tmp) for f in d.iterdir()):
            assert time.monotonic() < deadline and not task.done(), "the worker never wrote its key files"
            await asyncio.sleep(0.05)
        seen.extend(key_folders(own_tmp))
        task.cancel()  # the runner kills the worker (SIGKILL): it cannot clean up itself
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    assert seen, "the run made its key folder here"
    assert key_folders(own_tmp) == []


def test_stopped_sshd_fails_only_that_node(lab3: EdgeLab) -> None:
    lab3.nodes[1].stop_sshd()
    started = time.monotonic()
    result = run(
        lab3,
        RunRequest(
            hosts=[host(lab3, n) for n in lab3.nodes], operations=[put("/srv/x", "x")], connect_timeout_seconds=2
        ),
    )
    assert time.monotonic() - started < 15
    outcomes = {h.name: (h.outcome, h.error or "") for h in result.hosts}
    assert outcomes["node-0"][0] == "changed"
    assert outcomes["node-2"][0] == "changed"
    assert outcomes["node-1"][0] == "failed"
    assert not result.hosts[1].connected


def test_dropped_packets_time_out_at_the_connect_timeout(lab3: EdgeLab) -> None:
    node = lab3.nodes[0]
    node.drop_packets()
    started = time.monotonic()
    result = run(lab3, RunRequest(hosts=[host(lab3, node)], operations=[put("/srv/x", "x")], connect_timeout_seconds=2))
    elapsed = time.monotonic() - started
    assert result.hosts[0].outcome == "failed"
    assert 2 <= elapsed < 12, elapsed
    node.restore_packets()
    assert run(lab3, RunRequest(hosts=[host(lab3, node)], operations=[put("/srv/x", "x")])).ok


def test_trust_on_first_use_then_a_changed_key_is_refused(lab3: EdgeLab) -> None:
    node = lab3.nodes[2]
    learn = run(lab3, RunRequest(hosts=[host(lab3, node, known_hosts=[], host_key_policy="accept-new")]))
    [learned] = learn.hosts[0].learned_host_keys
    assert learned.split()[1:] == node.public_host_key().split()
    assert run(lab3, RunRequest(hosts=[host(lab3, node, known_hosts=[learned])])).ok

    node.change_host_key()
    refused = run(lab3, RunRequest(hosts=[host(lab3, node, known_hosts=[learned], host_key_policy="accept-new")]))
    assert refused.hosts[0].outcome == "failed"
    assert "does not match" in (refused.hosts[0].error or "")
    assert refused.hosts[0].learned_host_keys == []
