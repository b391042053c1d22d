"""The pure fleet decisions, as data: which Workflow steps start, which node runs a Task, what a
heartbeat makes of an EdgeNode, which nodes a target names, the shell line a Task runs as.

Until now only the sshd lab exercised these; here each decision is a table of inputs and the
outcome, so a change of behaviour shows as a changed row, not as a slower edge test.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import Any

import pytest

from clockwork.api.base import ObjectMeta
from clockwork.api.common import Target
from clockwork.api.edgenode import EdgeNode, EdgeNodeStatus
from clockwork.api.task import Task, TaskSpec, TaskStatus
from clockwork.api.workflow import Workflow, WorkflowStatus
from clockwork.fleet import edgenodes, scheduler
from clockwork.plan import HostResult, ProbeResult, RunResult
from clockwork.tasks import GRACE_SECONDS, command_for, kill_command, marker
from clockwork.workflows import advance, record, task_name

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
FACTS = "Linux\nx86_64\n6.1.0\nedge-1\n4\n8388608\n2097152\nDebian GNU/Linux 12 (bookworm)\n"
KEY = "edge-1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb0dmVyeWxvbmdrZXlmb3J0ZXN0aW5n"


# --- builders -----------------------------------------------------------------------------------


def node(name: str, namespace: str = "lab", labels: dict[str, str] | None = None, **spec: Any) -> EdgeNode:
    return EdgeNode.model_validate({
        "apiVersion": "clockwork.dev/v1alpha1", "kind": "EdgeNode",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}, "generation": 1},
        "spec": {"address": f"{name}.lab", **spec},
    })  # fmt: skip


def seen(phase: str | None, **status: Any) -> EdgeNodeStatus:
    return EdgeNodeStatus.model_validate({"phase": phase, **status})


def workflow(*steps: dict[str, Any]) -> Workflow:
    return Workflow.model_validate({
        "apiVersion": "clockwork.dev/v1alpha1", "kind": "Workflow",
        "metadata": {"name": "wf", "namespace": "lab"}, "spec": {"steps": list(steps)},
    })  # fmt: skip


def step(name: str, *depends_on: str, keep_going: bool = False) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "task": {"command": f"echo {name}"}}
    if depends_on:
        found["dependsOn"] = list(depends_on)
    if keep_going:
        found["continueOnFailure"] = True
    return found


def with_phases(flow: Workflow, **phases: str) -> WorkflowStatus:
    status = WorkflowStatus()
    for name, phase in phases.items():
        status.step(name).phase = phase  # type: ignore[assignment]
    return status


def probed(ok: bool, *, exit_code: int = 0, output: str = FACTS, error: str | None = None,
           learned: tuple[str, ...] = ()) -> RunResult:  # fmt: skip
    probe = ProbeResult(id="facts", success=ok, exit_code=exit_code if ok else None, output_tail=output)
    host = HostResult(
        name="edge-1", connected=ok, outcome="ok" if ok else "failed", error=error,
        learned_host_keys=list(learned), probes=[probe] if ok else [],
    )  # fmt: skip
    return RunResult(hosts=[host])


# --- workflows.advance --------------------------------------------------------------------------

SEQUENCE = (step("a"), step("b"), step("c"))
GRAPH = (step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))


@pytest.mark.parametrize(
    ("steps", "phases", "starts", "phase", "after"),
    [
        # in order when no step says dependsOn: one at a time
        (SEQUENCE, {}, ["a"], "Running", {"a": "Waiting", "b": "Waiting"}),
        (SEQUENCE, {"a": "Running"}, [], "Running", {"b": "Waiting"}),
        (SEQUENCE, {"a": "Succeeded"}, ["b"], "Running", {}),
        (SEQUENCE, {"a": "Succeeded", "b": "Succeeded", "c": "Succeeded"}, [], "Succeeded", {}),
        # a graph: both branches at once, the join after both
        (GRAPH, {"a": "Succeeded"}, ["b", "c"], "Running", {}),
        (GRAPH, {"a": "Succeeded", "b": "Succeeded", "c": "Running"}, [], "Running", {"d": "Waiting"}),
        (GRAPH, {"a": "Succeeded", "b": "Succeeded", "c": "Succeeded"}, ["d"], "Running", {}),
        # a failure skips what depends on it and fails the workflow once nothing runs
        (SEQUENCE, {"a": "Failed"}, [], "Failed", {"b": "Skipped", "c": "Skipped"}),
        (GRAPH, {"a": "Succeeded", "b": "Failed", "c": "Running"}, [], "Running", {"d": "Skipped"}),
        (GRAPH, {"a": "Succeeded", "b": "Failed", "c": "Succeeded"}, [], "Failed", {"d": "Skipped"}),
        (SEQUENCE, {"a": "TimedOut"}, [], "Failed", {"b": "Skipped"}),
        (SEQUENCE, {"a": "Cancelled"}, [], "Failed", {"b": "Skipped"}),
        # continueOnFailure: the next step runs after a failure, and the workflow succeeds
        ((step("a", keep_going=True), step("b")), {"a": "Failed"}, ["b"], "Running", {}),
        ((step("a", keep_going=True), step("b")), {"a": "Failed", "b": "Succeeded"}, [], "Succeeded", {}),
    ],
)
def test_advance(
    steps: tuple[dict[str, Any], ...], phases: dict[str, str], starts: list[str], phase: str, after: dict[str, str]
) -> None:
    flow = workflow(*steps)
    status = with_phases(flow, **phases)
    ready = advance(flow, status)
    assert [s.name for s in ready] == starts
    assert status.phase == phase
    for name, expected in after.items():
        assert status.step(name).phase == expected, name
    assert status.start_time is not None
    assert (status.completion_time is not None) == (phase in ("Succeeded", "Failed"))


def test_advance_says_why_a_step_was_skipped_and_which_failed() -> None:
    flow = workflow(*SEQUENCE)
    status = with_phases(flow, a="Failed")
    status.step("a").message = "exit 3"
    advance(flow, status)
    assert status.step("b").message == "a did not succeed"
    assert status.message == "step a failed: exit 3"


def test_advance_is_stable_when_nothing_changed() -> None:
    """A second look at the same state starts nothing new beyond the first and keeps the times."""
    flow = workflow(*GRAPH)
    status = with_phases(flow, a="Succeeded", b="Succeeded", c="Succeeded", d="Succeeded")
    advance(flow, status)
    done = status.completion_time
    assert advance(flow, status) == [] and status.completion_time == done and status.phase == "Succeeded"


def test_record_copies_the_tasks_outcome_and_names_the_task() -> None:
    flow = workflow(*SEQUENCE)
    status = WorkflowStatus()
    result = TaskStatus(phase="Succeeded", node="edge-1", exit_code=0, output="hi\n", message="done")
    record(status, "a", task_name(flow, flow.spec.steps[0]), result)
    got = status.step("a")
    assert (got.task, got.phase, got.node, got.exit_code, got.output) == ("wf-a", "Succeeded", "edge-1", 0, "hi\n")
    record(status, "b", "wf-b", TaskStatus())
    assert status.step("b").phase == "Pending"  # a Task not yet picked up


# --- scheduler.choose ---------------------------------------------------------------------------

FLEET = [
    (node("a", capabilities=["gpu", "linux"], maxConcurrentRuns=2), seen("Online")),
    (node("b", capabilities=["linux"], maxConcurrentRuns=4), seen("Online")),
    (node("c", capabilities=["gpu", "linux"]), seen("Offline")),
    (node("d", namespace="elsewhere", capabilities=["gpu"]), seen("Online")),
]


@pytest.mark.parametrize(
    ("task", "running", "chosen", "reason"),
    [
        ({"command": "x"}, {}, "a", ""),  # least loaded, then by name
        ({"command": "x"}, {"a": 1}, "b", ""),  # a is half full, b is empty
        ({"command": "x"}, {"a": 1, "b": 3}, "a", ""),  # 1/2 vs 3/4: ties go by name
        ({"command": "x", "requiredCapabilities": ["gpu"]}, {}, "a", ""),
        ({"command": "x", "requiredCapabilities": ["gpu"]}, {"a": 2}, None, "every capable node is busy (a 2/2)"),
        ({"command": "x", "requiredCapabilities": ["tpu"]}, {}, None,
         "no EdgeNode has every required capability (tpu)"),
        ({"command": "x", "requiredCapabilities": ["gpu", "linux"], "nodeName": "c"}, {}, None,
         "no capable EdgeNode is Online (c)"),
        ({"command": "x", "nodeName": "d"}, {}, None, "EdgeNode 'd' not found in namespace 'lab'"),
        ({"command": "x", "nodeName": "b"}, {}, "b", ""),
    ],
)  # fmt: skip
def test_choose(task: dict[str, Any], running: dict[str, int], chosen: str | None, reason: str) -> None:
    choice = scheduler.choose(TaskSpec.model_validate(task), "lab", FLEET, running)
    assert (choice.node, choice.reason) == (chosen, reason)
    assert choice.busy == reason.startswith("every capable node is busy")  # only then is waiting for a slot worth it


def test_choose_never_picks_a_node_never_probed() -> None:
    choice = scheduler.choose(TaskSpec(command="x"), "lab", [(node("new"), None)], {})
    assert choice.node is None and "Online" in choice.reason


# --- edgenodes.next_status ----------------------------------------------------------------------


def test_a_good_probe_makes_the_node_online_with_its_facts_and_trusts_the_key_once() -> None:
    beat = edgenodes.next_status(node("edge-1"), None, probed(True, learned=(KEY,)), NOW)
    status = beat.status
    assert status.phase == "Online" and status.last_seen == NOW and status.consecutive_failures == 0
    assert status.facts is not None
    assert (status.facts.cpus, status.facts.memory_mb, status.facts.disk_free_mb) == (4, 8192, 2048)
    assert status.host_key == KEY
    assert [e.reason for e in beat.events] == ["HostKeyTrusted", "NodeOnline"]
    again = edgenodes.next_status(node("edge-1"), status, probed(True, learned=("other " + KEY,)), NOW)
    assert again.status.host_key == KEY, "a recorded key is never replaced by a newly learned one"
    assert again.events == []  # Online -> Online: nothing to say


@pytest.mark.parametrize(
    ("failures_before", "offline_after", "phase", "events"),
    [(0, 3, "Stale", ["NodeStale"]), (1, 3, "Stale", []), (2, 3, "Offline", ["NodeOffline"]),
     (0, 1, "Offline", ["NodeOffline"])],
)  # fmt: skip
def test_failed_probes_go_stale_then_offline(
    failures_before: int, offline_after: int, phase: str, events: list[str]
) -> None:
    before = seen("Online" if failures_before == 0 else "Stale", consecutiveFailures=failures_before)
    beat = edgenodes.next_status(
        node("edge-1", offlineAfter=offline_after), before, probed(False, error="connection refused"), NOW
    )
    assert beat.status.phase == phase
    assert beat.status.consecutive_failures == failures_before + 1
    assert beat.status.message == "connection refused"
    assert [e.reason for e in beat.events] == events


def test_a_changed_host_key_is_offline_at_once_and_said_once() -> None:
    error = "host key for edge-1.lab does not match the trusted one"
    first = edgenodes.next_status(node("edge-1"), seen("Online", hostKey=KEY), probed(False, error=error), NOW)
    assert first.status.phase == "Offline"
    assert [e.reason for e in first.events] == ["HostKeyChanged", "NodeOffline"]
    assert "spec.hostKey.knownHosts" in first.status.message
    second = edgenodes.next_status(node("edge-1"), first.status, probed(False, error=error), NOW)
    assert second.events == [], "the Warning is not repeated every heartbeat"


def test_a_probe_command_that_fails_says_its_exit_code() -> None:
    result = probed(True, exit_code=2, output="uname: not found")
    beat = edgenodes.next_status(node("edge-1"), seen("Online"), result, NOW)
    assert beat.status.phase == "Stale"
    assert beat.status.message == "probe command exited 2: uname: not found"


def test_missing_fact_lines_are_unknown_not_errors() -> None:
    facts = edgenodes.parse_facts("Linux\naarch64\n")
    assert (facts.os, facts.arch, facts.cpus, facts.distribution) == ("Linux", "aarch64", None, None)


# --- edgenodes.resolve_targets ------------------------------------------------------------------

NODES = [
    (node("n2", labels={"site": "a"}), seen("Online")),
    (node("n1", labels={"site": "a"}), seen("Offline", message="no route")),
    (node("n3", labels={"site": "b"}), None),
    (node("n4", namespace="elsewhere", labels={"site": "a"}), seen("Online")),
]


@pytest.mark.parametrize(
    ("target", "targets", "skipped", "error"),
    [
        ({}, ["@local"], [], None),
        ({"local": True}, ["@local"], [], None),
        ({"nodeName": "n2"}, ["n2"], [], None),
        ({"nodeName": "n3"}, ["n3"], [], None),  # never probed: tried, not skipped
        ({"nodeSelector": {"site": "a"}}, ["n2"], ["n1"], None),  # by name, the Offline one skipped
        ({"nodeName": "n4"}, [], [], "spec.target.nodeName: EdgeNode 'n4' not found in namespace 'lab'"),
        ({"nodeSelector": {"site": "c"}}, [], [],
         "spec.target.nodeSelector: no EdgeNode in namespace 'lab' has the labels site=c"),
    ],
)  # fmt: skip
def test_resolve_targets(target: dict[str, Any], targets: list[str], skipped: list[str], error: str | None) -> None:
    found = edgenodes.resolve_targets(Target.model_validate(target), ObjectMeta(name="f", namespace="lab"), NODES)
    assert (found.targets, sorted(found.skipped), found.error) == (targets, skipped, error)
    for name in skipped:
        assert found.skipped[name].startswith("EdgeNode is Offline (last seen never seen): no route")


# --- tasks.command_for --------------------------------------------------------------------------


def task(**spec: Any) -> Task:
    return Task.model_validate({
        "apiVersion": "clockwork.dev/v1alpha1", "kind": "Task",
        "metadata": {"name": "t", "namespace": "lab"}, "spec": spec,
    })  # fmt: skip


def test_the_task_runs_under_timeout_with_its_marker_and_quoted_env() -> None:
    line = command_for(task(command="echo $GREETING", env={"GREETING": "it's; rm -rf /"}), "u1", 60)
    argv = shlex.split(line)
    assert argv[:2] == ["sh", "-c"]
    assert f'timeout -k {GRACE_SECONDS} "$2" sh -c "$3"' in argv[2]
    assert argv[3:6] == ["cw-task", "u1", "60"] and argv[7] == "start"
    # the body as the shell reads it: the value is one word, nothing in it runs
    lexer = shlex.shlex(argv[6], posix=True, punctuation_chars=";")
    lexer.whitespace_split = True
    assert list(lexer) == [":", marker("u1"), ";", "export", "GREETING=it's; rm -rf /", ";", "echo", "$GREETING"]


def test_attaching_waits_for_the_same_run_and_never_starts_one() -> None:
    started, attached = (shlex.split(command_for(task(command="sleep 9"), "u1", 5, attach=a)) for a in (False, True))
    assert attached[:7] == started[:7] and (started[7], attached[7]) == ("start", "attach")
    assert shlex.split(kill_command("u1"))[-1] == "u1"
