"""Tasks in local mode on real sshd edge nodes: scheduling, limits, timeouts, lost nodes.

node-0 has the `gpu` capability and one slot; node-1 and node-2 only `linux`.
Covers: no capable node -> Pending with the reason; three gpu tasks run one at a
time on node-0 (their log on the node never overlaps); exit code and output in
status; a timeout kills the command on the node (no process left); a node whose
processes die mid-task fails the task with the reason, and `retries` runs it again.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.edge.fleet import Fleet, by_ref, edge_node
from tests.support.edge_lab import EdgeLab

pytestmark = pytest.mark.integration


def task(name: str, command: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Task", "metadata": {"name": name},
            "spec": {"command": command, **spec}}  # fmt: skip


def nodes(lab: EdgeLab) -> list[dict[str, Any]]:
    found = [edge_node(lab, i, capabilities=["linux"]) for i in range(3)]
    found[0]["spec"].update(capabilities=["linux", "gpu"], maxConcurrentRuns=1)
    return found


def kill_node_processes(lab: EdgeLab, index: int) -> None:
    """Everything running inside the node's namespace dies (its sshd sessions too), by PID."""
    pids = subprocess.run(["ip", "netns", "pids", lab.nodes[index].namespace], capture_output=True, text=True).stdout
    for pid in pids.split():
        subprocess.run(["kill", "-9", pid], check=False)


def test_scheduling_limits_and_results(isolated_lab3: EdgeLab, workdir: Path) -> None:
    lab = isolated_lab3
    fleet = Fleet(lab, workdir)
    log = "/srv/gpu.log"
    gpu = f"echo start $(date +%s.%N) >> {log}; sleep 1; echo end $(date +%s.%N) >> {log}"
    fleet.write(
        *nodes(lab),
        task("nowhere", "true", requiredCapabilities=["tpu"]),
        *(task(f"gpu-{i}", gpu, requiredCapabilities=["gpu"]) for i in range(3)),
        task("answer", "echo hello; echo world >&2; exit 3", requiredCapabilities=["linux"]),
        task("env", 'test "$GREETING" = "hi there"', env={"GREETING": "hi there"}),
    )
    code, outcomes, stderr, _seconds = fleet.run("apply", timeout=300)
    assert code == 1, (outcomes, stderr)
    found = by_ref(outcomes)
    nowhere = found["Task/default/nowhere"]["status"]
    assert (nowhere["phase"], nowhere["message"]) == ("Pending", "no EdgeNode has every required capability (tpu)")
    for i in range(3):
        status = found[f"Task/default/gpu-{i}"]["status"]
        assert (status["phase"], status["node"], status["exitCode"]) == ("Succeeded", "node-0", 0)
    marks = [line.split()[0] for line in lab.nodes[0].path(log).read_text().splitlines()]
    assert marks == ["start", "end"] * 3  # one at a time: node-0 has one slot
    answer = found["Task/default/answer"]["status"]
    assert (answer["phase"], answer["exitCode"]) == ("Failed", 3)
    assert "hello" in answer["output"] and "world" in answer["output"]
    assert answer["message"] == f"exited 3 on {answer['node']}"
    assert found["Task/default/env"]["status"]["phase"] == "Succeeded"

    again = fleet.run("apply", timeout=300)
    assert by_ref(again[1])["Task/default/gpu-0"]["status"]["attempts"] == 1  # a finished task does not run again
    assert len(lab.nodes[0].path(log).read_text().splitlines()) == 6


def test_timeout_kills_the_command_on_the_node(isolated_lab3: EdgeLab, workdir: Path) -> None:
    lab = isolated_lab3
    fleet = Fleet(lab, workdir)
    fleet.write(*nodes(lab), task("slow", "sleep 297; touch /srv/finished", timeoutSeconds=3, nodeName="node-1"))
    started = time.monotonic()
    code, outcomes, _, _ = fleet.run("apply", timeout=120)
    status = by_ref(outcomes)["Task/default/slow"]["status"]
    assert code == 1 and status["phase"] == "TimedOut", status
    assert "killed on node-1 after 3s (counted from assignment)" in status["message"]
    assert time.monotonic() - started < 60
    left = subprocess.run(["pgrep", "-f", "sleep 297"], capture_output=True, text=True)
    assert left.stdout.strip() == "", "the command must not outlive its timeout"
    assert not lab.nodes[1].path("/srv/finished").exists()


def test_a_node_lost_mid_task_fails_it_with_the_reason(isolated_lab3: EdgeLab, workdir: Path) -> None:
    lab = isolated_lab3
    fleet = Fleet(lab, workdir)
    fleet.write(*nodes(lab), task("doomed", "sleep 31", nodeName="node-2", timeoutSeconds=60))
    stop = threading.Event()

    def kill_once_running() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            if subprocess.run(["pgrep", "-f", "^sleep 31$"], capture_output=True).returncode == 0:
                kill_node_processes(lab, 2)
                return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_once_running, daemon=True)
    killer.start()
    try:
        code, outcomes, _, seconds = fleet.run("apply", timeout=120)
    finally:
        stop.set()
        killer.join(timeout=5)
    status = by_ref(outcomes)["Task/default/doomed"]["status"]
    assert code == 1 and status["phase"] == "Failed" and status.get("exitCode") is None, status
    assert status["message"].startswith("lost node-2 while running:"), status["message"]
    assert seconds < 30  # noticed when the connection died, not at the time limit


def workflow(name: str, *steps: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"steps": list(steps)}}  # fmt: skip


def step(name: str, command: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "task": {"command": command, "nodeName": "node-1"}, **extra}


def test_workflows_in_order_as_a_graph_and_on_failure(isolated_lab3: EdgeLab, workdir: Path) -> None:
    lab = isolated_lab3
    fleet = Fleet(lab, workdir)
    fleet.write(
        *nodes(lab),
        workflow("build", step("fetch", "echo one > /srv/wf.txt; echo fetched"),
                 step("make", "cat /srv/wf.txt; echo two >> /srv/wf.txt"),
                 step("ship", "cat /srv/wf.txt")),
        workflow("broken", step("first", "exit 7"), step("second", "echo never")),
        workflow("tolerant", step("first", "exit 7", continueOnFailure=True), step("second", "echo still")),
        workflow("graph", step("a", "sleep 1; echo a"), step("b", "echo b", dependsOn=["a"]),
                 step("c", "echo c", dependsOn=["a"]), step("d", "echo d", dependsOn=["b", "c"])),
    )  # fmt: skip
    code, outcomes, stderr, _ = fleet.run("apply", timeout=300)
    assert code == 1, stderr  # "broken" fails
    found = {k.split("/")[-1]: v["status"] for k, v in by_ref(outcomes).items() if k.startswith("Workflow/")}
    build = found["build"]
    assert build["phase"] == "Succeeded"
    assert [(s["name"], s["phase"], s["task"]) for s in build["steps"]] == [
        ("fetch", "Succeeded", "build-fetch"), ("make", "Succeeded", "build-make"), ("ship", "Succeeded", "build-ship"),
    ]  # fmt: skip
    assert build["steps"][2]["output"].split() == ["one", "two"]  # ran after make, on the node
    broken = found["broken"]
    assert broken["phase"] == "Failed" and broken["message"].startswith("step first failed")
    assert [(s["phase"], s.get("exitCode")) for s in broken["steps"]] == [("Failed", 7), ("Skipped", None)]
    assert found["tolerant"]["phase"] == "Succeeded" and found["tolerant"]["steps"][1]["output"].strip() == "still"
    assert [s["phase"] for s in found["graph"]["steps"]] == ["Succeeded"] * 4
