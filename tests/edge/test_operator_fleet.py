"""The operator against real sshd nodes: EdgeNodes from the API, keys from Secrets.

The operator talks to either API server (the emulator, or the real kube-apiserver in a
namespace of the test's own); its PyInfra workers run in the lab's control network
namespace (CW_WORKER_PREFIX). Covers: heartbeats make EdgeNodes Online with
facts and a host key trusted on first use; a File by label reaches every node; a
node whose sshd stops goes Offline, is skipped with the reason while the others stay
applied, and catches up when it is back; a changed host key is refused with a
condition and an Event; the private key appears in no log, status or Event. On the real server only: a deleted
Workflow's Tasks go by garbage collection (their ownerReferences), with no operator running.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.edge.fleet import edge_node as lab_edge_node
from tests.operator.conftest import ONE_SERVER, REAL_ONLY, OperatorLauncher
from tests.support.edge_lab import EdgeLab
from tests.support.kubeapi import Kube

# The fleet is the subject here, not the API server: each scenario runs once (ONE_SERVER).
pytestmark = [pytest.mark.integration, ONE_SERVER]


def edge_node(lab: EdgeLab, index: int) -> dict[str, Any]:
    """A lab node as the operator reaches it: the key from the lab-key Secret, probed every 5 s."""
    return lab_edge_node(lab, index, key={"sshKeySecret": {"name": "lab-key"}}, heartbeatSeconds=5,
                           capabilities=["linux"])  # fmt: skip


def phase(kube: Kube, name: str) -> str | None:
    obj = kube.find("edgenodes", name)
    return ((obj or {}).get("status") or {}).get("phase")


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == type_)


@pytest.fixture
def fleet(request: pytest.FixtureRequest, kube: Kube, operator: OperatorLauncher, lab3: EdgeLab) -> OperatorLauncher:
    key = base64.b64encode(lab3.client_key.read_bytes()).decode()
    kube.request(
        "POST",
        f"/api/v1/namespaces/{kube.namespace}/secrets",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "lab-key"}, "data": {"ssh-privatekey": key}},
    )
    marker = request.node.get_closest_marker("operator_env")
    operator.start(CW_WORKER_PREFIX=lab3.worker_prefix, **(marker.kwargs if marker else {}))
    for index in range(3):
        kube.create("edgenodes", edge_node(lab3, index))
    for node in lab3.nodes:
        kube.wait_for(f"{node.name} Online", lambda n=node.name: phase(kube, n) == "Online", timeout=60)
    return operator


def test_heartbeat_fan_out_offline_and_catch_up(
    kube: Kube, fleet: OperatorLauncher, lab3: EdgeLab, isolated_lab3: EdgeLab
) -> None:
    node0 = kube.get("edgenodes", "node-0")
    assert node0["status"]["facts"]["cpus"] >= 1
    assert node0["status"]["hostKey"].split()[1:] == lab3.nodes[0].public_host_key().split()

    kube.create(
        "files",
        {
            "apiVersion": "clockwork.dev/v1alpha1",
            "kind": "File",
            "metadata": {"name": "motd"},
            "spec": {"path": "/srv/motd", "content": "v1\n", "target": {"nodeSelector": {"site": "lab"}}},
        },
    )

    def ready() -> bool:
        obj = kube.get("files", "motd")
        return any(
            c["type"] == "Ready" and c["status"] == "True" for c in (obj.get("status") or {}).get("conditions", [])
        )

    kube.wait_for("motd Ready on 3 nodes", ready, timeout=60)
    for node in lab3.nodes:
        assert node.path("/srv/motd").read_text() == "v1\n"

    lab3.nodes[1].stop_sshd()
    kube.wait_for("node-1 Offline", lambda: phase(kube, "node-1") == "Offline", timeout=30)
    kube.patch("files", "motd", {"spec": {"content": "v2\n"}})

    def skipped() -> dict[str, Any] | None:
        obj = kube.get("files", "motd")
        nodes = {n["name"]: n for n in (obj.get("status") or {}).get("nodes", [])}
        return (
            obj
            if nodes.get("node-1", {}).get("lastResult") == "skipped" and obj["status"]["observedGeneration"] == 2
            else None
        )

    partial = kube.wait_for("node-1 skipped", skipped, timeout=60)
    assert condition(partial, "Applied")["reason"] == "NodesUnavailable"
    kube.wait_for(
        "v2 on the online nodes",
        lambda: (
            lab3.nodes[0].path("/srv/motd").read_text() == "v2\n"
            and lab3.nodes[2].path("/srv/motd").read_text() == "v2\n"
        ),
        timeout=30,
    )
    assert lab3.nodes[1].path("/srv/motd").read_text() == "v1\n"

    lab3.nodes[1].start_sshd()
    kube.wait_for("node-1 Online again", lambda: phase(kube, "node-1") == "Online", timeout=30)
    kube.wait_for("node-1 caught up", lambda: lab3.nodes[1].path("/srv/motd").read_text() == "v2\n", timeout=60)
    kube.wait_for("motd Ready again", ready, timeout=60)


def test_changed_host_key_is_refused_and_secrets_stay_secret(
    kube: Kube, fleet: OperatorLauncher, lab3: EdgeLab
) -> None:
    lab3.nodes[2].change_host_key()

    def refused() -> dict[str, Any] | None:
        obj = kube.get("edgenodes", "node-2")
        conditions = {c["type"]: c for c in obj["status"].get("conditions", [])}
        trusted = conditions.get("HostKeyTrusted", {})
        return obj if trusted.get("reason") == "HostKeyChanged" else None

    node = kube.wait_for("host key refused", refused, timeout=30)
    assert node["status"]["phase"] == "Offline"
    assert "spec.hostKey.knownHosts" in condition(node, "HostKeyTrusted")["message"]
    kube.wait_for("HostKeyChanged event", lambda: "HostKeyChanged" in [e["reason"] for e in kube.events("node-2")])

    key = lab3.client_key.read_text()
    secrets = [line for line in key.splitlines() if line and "PRIVATE KEY" not in line]
    secrets.append(base64.b64encode(key.encode()).decode()[:40])
    everything = "".join(op.logs() for op in fleet.started)
    everything += json.dumps([kube.list(p) for p in ("edgenodes", "files")])
    everything += json.dumps(kube.list("events", group="", version="v1"))
    assert not any(secret in everything for secret in secrets)
    assert Path(lab3.client_key).exists()


def test_rollout_in_operator_mode(kube: Kube, fleet: OperatorLauncher, lab3: EdgeLab, isolated_lab3: EdgeLab) -> None:
    """A Rollout through the operator: v1, v2 in two batches (previous versions, Events), v3 paused then resumed."""

    def rollout(version: str, pause: bool) -> dict[str, Any]:
        return {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Rollout", "metadata": {"name": "app"},
                "spec": {"nodeSelector": {"site": "lab"}, "version": version, "strategy": {"batchSize": 2},
                         "pause": pause,
                         "resources": [{"kind": "File", "name": "ver",
                                        "spec": {"path": "/srv/ver", "content": f"{version}\n"}}]}}  # fmt: skip

    def status() -> dict[str, Any]:
        return dict((kube.find("rollouts", "app") or {}).get("status") or {})

    kube.create("rollouts", rollout("v1", pause=False))
    kube.wait_for("v1 Completed", lambda: status().get("phase") == "Completed", timeout=120)
    assert [n.path("/srv/ver").read_text() for n in lab3.nodes] == ["v1\n"] * 3

    kube.patch("rollouts", "app", {"spec": rollout("v2", pause=False)["spec"]})
    kube.wait_for("v2 Completed", lambda: status().get("phase") == "Completed" and status()["version"] == "v2",
                  timeout=120)  # fmt: skip
    found = status()
    assert [(n["name"], n["batch"], n["version"], n["previousVersion"]) for n in found["nodes"]] == [
        ("node-0", 1, "v2", "v1"), ("node-1", 1, "v2", "v1"), ("node-2", 2, "v2", "v1"),
    ]  # fmt: skip
    assert [n.path("/srv/ver").read_text() for n in lab3.nodes] == ["v2\n"] * 3
    reasons = [e["reason"] for e in kube.events("app")]
    assert {"Started", "BatchStarted", "BatchHealthy", "Completed"} <= set(reasons)
    assert status()["batches"] == 2

    kube.patch("rollouts", "app", {"spec": rollout("v3", pause=True)["spec"]})
    kube.wait_for("v3 Paused", lambda: status().get("phase") == "Paused" and status()["version"] == "v3", timeout=60)
    assert status()["message"] == "paused before batch 1 of 2"
    assert [n.path("/srv/ver").read_text() for n in lab3.nodes] == ["v2\n"] * 3
    kube.patch("rollouts", "app", {"spec": {"pause": False}})
    kube.wait_for("v3 Completed", lambda: status().get("phase") == "Completed" and status()["version"] == "v3",
                  timeout=120)  # fmt: skip
    assert [n.path("/srv/ver").read_text() for n in lab3.nodes] == ["v3\n"] * 3


def test_tasks_in_operator_mode(kube: Kube, fleet: OperatorLauncher, lab3: EdgeLab, isolated_lab3: EdgeLab) -> None:
    """Tasks through the operator: Pending with the reason, Succeeded with output, cancelled while running."""

    def task(name: str, **spec: Any) -> dict[str, Any]:
        return {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Task", "metadata": {"name": name}, "spec": spec}

    def status(name: str) -> dict[str, Any]:
        return dict((kube.find("tasks", name) or {}).get("status") or {})

    kube.create("tasks", task("needs-gpu", command="true", requiredCapabilities=["gpu"]))
    kube.create("tasks", task("hello", command="echo hello from $(hostname)", requiredCapabilities=["linux"]))
    kube.create("tasks", task("long", command="sleep 293", nodeName="node-1"))
    kube.wait_for("hello Succeeded", lambda: status("hello").get("phase") == "Succeeded", timeout=60)
    assert "hello from" in status("hello")["output"] and status("hello")["exitCode"] == 0
    reason = "no EdgeNode has every required capability (gpu)"
    kube.wait_for("needs-gpu Pending with the reason", lambda: status("needs-gpu").get("message") == reason)
    assert status("needs-gpu")["phase"] == "Pending"

    kube.create("tasks", task("cut-off", command="sleep 294", nodeName="node-2"))
    kube.wait_for("long Running", lambda: status("long").get("phase") == "Running", timeout=60)
    kube.patch("tasks", "long", {"spec": {"cancel": True}})
    kube.wait_for("long Cancelled", lambda: status("long").get("phase") == "Cancelled", timeout=60)
    assert subprocess.run(["pgrep", "-f", "^sleep 293$"], capture_output=True).returncode == 1
    assert status("long")["message"] == "cancelled while running on node-1; stopped there"

    # A cancel that cannot reach the node says so: never "stopped" for a run still going there.
    def running_there() -> bool:
        return subprocess.run(["pgrep", "-f", "^sleep 294$"], capture_output=True).returncode == 0

    kube.wait_for("cut-off running on node-2", lambda: status("cut-off").get("phase") == "Running" and running_there(),
                  timeout=60)  # fmt: skip
    lab3.nodes[2].drop_packets()
    try:
        kube.patch("tasks", "cut-off", {"spec": {"cancel": True}})
        kube.wait_for("cut-off Cancelled", lambda: status("cut-off").get("phase") == "Cancelled", timeout=120)
        assert status("cut-off")["message"].startswith("cancelled while running on node-2, but could not be stopped")
        assert running_there()
        warnings = [e for e in kube.events("cut-off") if e["reason"] == "Cancelled"]
        assert [e["type"] for e in warnings] == ["Warning"]
    finally:
        lab3.nodes[2].restore_packets()
        stop_sleeps(294)  # this test's own command, by PID
    table = kube.http.get(kube.url + kube.path("tasks", kube.namespace), timeout=10, verify=kube.verify,
                          headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()  # fmt: skip
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Phase", "Node", "Exit", "Age"]


def test_a_task_running_when_the_operator_restarts_is_neither_lost_nor_repeated(
    kube: Kube, fleet: OperatorLauncher, lab3: EdgeLab, isolated_lab3: EdgeLab
) -> None:
    """The operator stops while a Task runs and the run ends meanwhile; the next operator attaches
    to the run on its node and reports its real outcome, and the command ran once."""
    node, tag = lab3.nodes[0], f"survivor-{os.getpid()}"
    command = (f"touch /srv/{tag}.started; while [ ! -e /srv/{tag}.gate ]; do sleep 0.1; done; "
               f"echo ran >> /srv/{tag}.count; echo finished")  # fmt: skip
    kube.create("tasks", {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Task", "metadata": {"name": "survivor"},
                          "spec": {"command": command, "nodeName": node.name}})  # fmt: skip
    kube.wait_for("the command started on its node", lambda: node.path(f"/srv/{tag}.started").exists(), timeout=60)
    fleet.started[0].stop()
    node.path(f"/srv/{tag}.gate").touch()  # it ends while no operator runs
    kube.wait_for("the run ended on the node", lambda: node.path(f"/srv/{tag}.count").exists(), timeout=30)
    assert (kube.get("tasks", "survivor").get("status") or {}).get("phase") == "Running"

    fleet.start(CW_WORKER_PREFIX=lab3.worker_prefix)
    kube.wait_for("survivor Succeeded", lambda: (kube.get("tasks", "survivor").get("status") or {}).get("phase")
                  == "Succeeded", timeout=60)  # fmt: skip
    status = kube.get("tasks", "survivor")["status"]
    assert (status["exitCode"], status["output"], status["attempts"]) == (0, "finished", 1)
    assert node.path(f"/srv/{tag}.count").read_text() == "ran\n"


def test_workflow_in_operator_mode(kube: Kube, fleet: OperatorLauncher, lab3: EdgeLab, isolated_lab3: EdgeLab) -> None:
    """A 3-step Workflow creates owned Tasks one after another; outputs in status; delete takes the Tasks."""
    commands = (("one", "echo 1 > /srv/w"), ("two", "cat /srv/w; echo 2 >> /srv/w"), ("three", "cat /srv/w"))
    steps = [{"name": n, "task": {"command": c, "nodeName": "node-0"}} for n, c in commands]
    workflow = kube.create("workflows", {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Workflow",
                                         "metadata": {"name": "wf"}, "spec": {"steps": steps}})  # fmt: skip

    def status() -> dict[str, Any]:
        return dict((kube.find("workflows", "wf") or {}).get("status") or {})

    kube.wait_for("workflow Succeeded", lambda: status().get("phase") == "Succeeded", timeout=120)
    found = status()
    assert [(s["name"], s["phase"], s["task"]) for s in found["steps"]] == [
        ("one", "Succeeded", "wf-one"), ("two", "Succeeded", "wf-two"), ("three", "Succeeded", "wf-three"),
    ]  # fmt: skip
    assert found["steps"][2]["output"].split() == ["1", "2"]
    tasks = {t["metadata"]["name"]: t for t in kube.list("tasks")}
    assert set(tasks) >= {"wf-one", "wf-two", "wf-three"}
    owner = tasks["wf-two"]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"]) == ("Workflow", workflow["metadata"]["uid"])
    starts = [tasks[f"wf-{n}"]["status"]["startTime"] for n in ("one", "two", "three")]
    assert starts == sorted(starts)

    kube.delete("workflows", "wf")
    kube.wait_for("workflow and its tasks gone", lambda: kube.find("workflows", "wf") is None
                  and not [t for t in kube.list("tasks")
                           if t["metadata"]["name"].startswith("wf-")])  # fmt: skip


def test_a_new_version_supersedes_a_rollout_in_progress(
    kube: Kube, fleet: OperatorLauncher, lab3: EdgeLab, isolated_lab3: EdgeLab
) -> None:
    """v2 arrives while v1 is on batch 1 of 3: v1 stops at the batch boundary, v2 rolls out everywhere."""

    def rollout(version: str) -> dict[str, Any]:
        return {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Rollout", "metadata": {"name": "sup"},
                "spec": {"nodeSelector": {"site": "lab"}, "version": version, "strategy": {"batchSize": 1},
                         "healthGate": {"intervalSeconds": 1, "timeoutSeconds": 30,
                                        "assertions": [{"type": "command", "command": "sleep 2"}]},
                         "resources": [{"kind": "File", "name": "sup",
                                        "spec": {"path": "/srv/sup", "content": f"{version}\n"}}]}}  # fmt: skip

    def status() -> dict[str, Any]:
        return dict((kube.find("rollouts", "sup") or {}).get("status") or {})

    kube.create("rollouts", rollout("v1"))
    kube.wait_for("v1 on batch 1", lambda: status().get("batch") == 1 and status().get("phase") == "Progressing")
    kube.patch("rollouts", "sup", {"spec": rollout("v2")["spec"]})
    kube.wait_for("Superseded Event", lambda: "Superseded" in [e["reason"] for e in kube.events("sup")], timeout=120)
    kube.wait_for("v2 Completed", lambda: status().get("phase") == "Completed" and status()["version"] == "v2",
                  timeout=180)  # fmt: skip
    assert [n.path("/srv/sup").read_text() for n in lab3.nodes] == ["v2\n"] * 3
    superseded = next(e for e in kube.events("sup") if e["reason"] == "Superseded")
    assert superseded["message"].startswith("superseded by version v2 before batch 2")
    assert [n.get("previousVersion") for n in status()["nodes"]] == ["v1", None, None]


@REAL_ONLY
def test_a_deleted_workflow_takes_its_tasks_by_garbage_collection(kube: Kube, operator: OperatorLauncher) -> None:
    """The Workflow's Tasks are its dependents (ownerReferences): the real garbage collector removes them
    when it goes, even with no operator to run its delete handler. No EdgeNode is needed: the Task stays
    Pending."""
    operator.start()
    steps = [{"name": "one", "task": {"command": "true", "requiredCapabilities": ["nowhere"]}}]
    workflow = kube.create("workflows", {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Workflow",
                                         "metadata": {"name": "gc"}, "spec": {"steps": steps}})  # fmt: skip
    task = kube.wait_for("the first step's Task", lambda: kube.find("tasks", "gc-one"), timeout=60)
    [owner] = task["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"], owner["blockOwnerDeletion"]) == (
        "Workflow", workflow["metadata"]["uid"], True, True,
    )  # fmt: skip
    operator.stop_all()  # as if uninstalled: its finalizer is left on the Workflow ...
    kube.delete("workflows", "gc")
    kube.patch("workflows", "gc", {"metadata": {"finalizers": None}})  # ... and removed by hand
    kube.wait_for("the Workflow gone", lambda: kube.find("workflows", "gc") is None, timeout=30)
    kube.wait_for("its Task collected", lambda: kube.find("tasks", "gc-one") is None, timeout=60)


@pytest.fixture
def own_sleeps() -> Iterator[int]:
    """A length of ``sleep`` only this test run uses (and that plus one); on the way out, whatever
    such sleeps a failed run left on the nodes are stopped, by the PIDs found for exactly those."""
    seconds = 500 + os.getpid() % 400
    yield seconds
    stop_sleeps(seconds, seconds + 1)


def stop_sleeps(*lengths: int) -> None:
    """Kill, by the PIDs found for exactly them, the ``sleep N`` commands of these lengths."""
    for how_long in lengths:
        found = subprocess.run(["pgrep", "-f", f"^sleep {how_long}$"], capture_output=True, text=True).stdout
        for pid in found.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


WORKERS, BUSY = 4, 12  # kopf's worker limit for this test, and three times as many running Tasks


@pytest.mark.timeout(600)
@pytest.mark.operator_env(CW_WORKER_LIMIT=str(WORKERS))
def test_running_tasks_and_a_workflow_hold_up_nothing(
    kube: Kube, fleet: OperatorLauncher, lab3: EdgeLab, isolated_lab3: EdgeLab, own_sleeps: int
) -> None:
    """Three times as many running Tasks as kopf has workers (CW_WORKER_LIMIT, 20 by default; 4
    here), and a Workflow waiting on its first step, keep none of them: a new File is Ready in the
    usual time, and a cancel stops a running Task within seconds without the operator listing Tasks."""
    seconds = own_sleeps  # this run's own sleeps, told apart from any other's
    for node in lab3.nodes:
        kube.patch("edgenodes", node.name, {"spec": {"maxConcurrentRuns": BUSY}})
    for index in range(BUSY):
        busy = {"metadata": {"name": f"busy-{index:02}"}, "spec": {"command": f"sleep {seconds}"}}
        kube.create("tasks", {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Task", **busy})
    steps = [
        {"name": "wait", "task": {"command": f"sleep {seconds + 1}"}},
        {"name": "then", "task": {"command": "true"}},
    ]
    kube.create("workflows", {"apiVersion": "clockwork.dev/v1alpha1", "kind": "Workflow",
                              "metadata": {"name": "slow"}, "spec": {"steps": steps}})  # fmt: skip

    def phases(prefix: str) -> list[str | None]:
        return [(t.get("status") or {}).get("phase") for t in kube.list("tasks")
                if t["metadata"]["name"].startswith(prefix)]  # fmt: skip

    def all_running() -> bool:
        return phases("busy-") == ["Running"] * BUSY and phases("slow-") == ["Running"]

    def sleeping(how_long: int = seconds) -> int:
        found = subprocess.run(["pgrep", "-c", "-f", f"^sleep {how_long}$"], capture_output=True, text=True).stdout
        return int(found.strip() or 0)

    kube.wait_for("the Tasks and the first step Running", all_running, timeout=240)
    assert (kube.get("workflows", "slow")["status"] or {}).get("phase") == "Running"
    # Running in status means handed to a run; the File is created once every command runs on its
    # node, so what it competes with is running Tasks, not runs starting up.
    kube.wait_for("every command running on the nodes", lambda: (sleeping(), sleeping(seconds + 1)) == (BUSY, 1),
                  timeout=240)  # fmt: skip

    kube.create("files", {"apiVersion": "clockwork.dev/v1alpha1", "kind": "File", "metadata": {"name": "meanwhile"},
                          "spec": {"path": "/srv/meanwhile", "content": "x\n",
                                   "target": {"nodeSelector": {"site": "lab"}}}})  # fmt: skip

    def ready() -> bool:
        conditions = (kube.get("files", "meanwhile").get("status") or {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    kube.wait_for("the File Ready while the Tasks run", ready, timeout=60)  # what the fan-out test allows
    assert [n.path("/srv/meanwhile").read_text() for n in lab3.nodes] == ["x\n"] * 3

    before = sleeping()
    lists = kube.list_requests("tasks")  # this test reads one Task at a time from here on
    kube.patch("tasks", "busy-07", {"spec": {"cancel": True}})

    def cancelled() -> bool:
        return ((kube.find("tasks", "busy-07") or {}).get("status") or {}).get("phase") == "Cancelled"

    kube.wait_for("busy-07 Cancelled", cancelled, timeout=15)
    assert kube.list_requests("tasks") == lists
    assert (before, sleeping()) == (BUSY, BUSY - 1)  # stopped on its node

    kube.patch("tasks", "slow-wait", {"spec": {"cancel": True}})  # the Workflow learns from its Task's event

    def workflow_phase() -> str | None:
        return (kube.get("workflows", "slow").get("status") or {}).get("phase")

    kube.wait_for("the Workflow Failed on its cancelled step", lambda: workflow_phase() == "Failed", timeout=15)
    assert [s["phase"] for s in kube.get("workflows", "slow")["status"]["steps"]] == ["Cancelled", "Skipped"]
    for index in range(BUSY):
        kube.patch("tasks", f"busy-{index:02}", {"spec": {"cancel": True}})
    # The other stops at once, each a run of its own on a node: bounded by the machine, not by a timer.
    kube.wait_for("every Task Cancelled", lambda: set(phases("busy-")) == {"Cancelled"}, timeout=180)
    assert sleeping() == 0
    assert subprocess.run(["pgrep", "-f", f"^sleep {seconds + 1}$"], capture_output=True).returncode == 1
