"""A Rollout's decisions as data (clockwork.fleet.rolling): spec, status and what each batch
found in; the action, the status and the Events out. No nodes, no driver, nothing waits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from clockwork.api.registry import parse_resource
from clockwork.api.rollout import Rollout, RolloutStatus
from clockwork.fleet import rolling

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
THREE = rolling.Nodes(["a", "b", "c"])


def _rollout(**spec: Any) -> Rollout:
    file = {"kind": "File", "name": "f", "spec": {"path": "/srv/f", "content": "x"}}
    body = {"nodeSelector": {"site": "lab"}, "version": "v1", "strategy": {"batchSize": 1}, "resources": [file]}
    metadata = {"name": "r", "namespace": "default"}
    parsed = parse_resource({"apiVersion": "clockwork.dev/v1alpha1", "kind": "Rollout", "metadata": metadata,
                             "spec": {**body, **spec}})  # fmt: skip
    assert isinstance(parsed, Rollout)
    return parsed


def _drive(
    rollout: Rollout, nodes: rolling.Nodes, outcomes: dict[str, str], rollback: dict[str, str] | None = None
) -> tuple[RolloutStatus, list[tuple[str, str]], list[rolling.Action]]:
    """Run the decisions to their end as a driver would, each node's problem taken from
    ``outcomes`` (absent: healthy) and each rollback problem from ``rollback``."""
    status, events, actions = RolloutStatus(), [], []
    step = rolling.step(rollout, status, nodes, NOW)
    for _ in range(20):  # bounded: a rollout of three nodes takes far fewer steps
        status = step.status
        events += [(e.type, e.reason) for e in step.events]
        action = step.action
        if action is None:
            return status, events, actions
        actions.append(action)
        if isinstance(action, rolling.Deploy):
            problems = {n: outcomes[n] for n in action.nodes if n in outcomes}
            step = rolling.batch_done(rollout, status, action, problems, status.batches or 0, NOW)
            if step.action is None and not problems:
                events += [(e.type, e.reason) for e in step.events]
                step = rolling.step(rollout, step.status, nodes, NOW)
        else:
            step = rolling.rolled_back(status, action, rollback or {}, NOW)
    raise AssertionError("the rollout never ended")


def test_every_batch_healthy_completes_one_node_at_a_time() -> None:
    status, events, actions = _drive(_rollout(), THREE, {})
    assert actions == [rolling.Deploy(1, ["a"]), rolling.Deploy(2, ["b"]), rolling.Deploy(3, ["c"])]
    assert [e[1] for e in events] == ["Started"] + ["BatchStarted", "BatchHealthy"] * 3 + ["Completed"]
    assert status.phase == "Completed" and status.finished == NOW and status.batches == 3
    assert [(n.name, n.state, n.version, n.batch) for n in status.nodes] == [
        ("a", "healthy", "v1", 1), ("b", "healthy", "v1", 2), ("c", "healthy", "v1", 3)
    ]  # fmt: skip
    [ready] = status.conditions
    assert (ready.status, ready.reason, ready.message) == ("True", "Completed", "version v1 on 3 node(s)")


def test_a_failed_batch_rolls_back_every_node_it_touched_to_its_own_previous_version() -> None:
    before = RolloutStatus(version="v1", phase="Completed")
    for name in ("a", "b", "c"):
        before.node(name).version, before.node(name).state = "v1", "healthy"
    rollout = _rollout(version="v2")
    step = rolling.step(rollout, before, THREE, NOW)
    assert step.action == rolling.Deploy(1, ["a"])
    done = rolling.batch_done(rollout, step.status, rolling.Deploy(1, ["a"]), {}, 3, NOW)
    step = rolling.step(rollout, done.status, THREE, NOW)
    assert step.action == rolling.Deploy(2, ["b"])
    failed = rolling.batch_done(rollout, step.status, rolling.Deploy(2, ["b"]), {"b": "File/f: unhealthy"}, 3, NOW)
    assert failed.action == rolling.RollBack(2, "b: File/f: unhealthy", {"v1": ["a", "b"]})
    assert failed.status.phase == "RollingBack" and [e.reason for e in failed.events] == ["BatchFailed", "RollingBack"]
    assert failed.status.node("c").state == "pending"  # never touched, nothing to put back
    back = rolling.rolled_back(failed.status, failed.action, {}, NOW)
    assert back.status.phase == "RolledBack" and back.action is None
    assert back.status.message == "batch 2 failed (b: File/f: unhealthy); 2 node(s) rolled back"
    assert [(n.name, n.state, n.version) for n in back.status.nodes] == [
        ("a", "rolledBack", "v1"), ("b", "rolledBack", "v1"), ("c", "pending", "v1")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "outcomes", "rollback", "phase", "last_event", "words"),
    [
        ({}, {"a": "File/f: cannot write"}, {}, "RolledBack", "RolledBack", "1 node(s) rolled back"),
        ({}, {"b": "x"}, {"a": "release failed"}, "Failed", "Failed", "rollback failed on a"),
        ({"autoRollback": False}, {"b": "File/f: cannot write"}, {}, "Failed", "BatchFailed",
         "batch 2 failed: b: File/f: cannot write"),
    ],
)  # fmt: skip
def test_how_a_failed_batch_ends(
    spec: dict[str, Any], outcomes: dict[str, str], rollback: dict[str, str], phase: str, last_event: str, words: str
) -> None:
    status, events, actions = _drive(_rollout(**spec), THREE, outcomes, rollback)
    assert status.phase == phase and words in status.message and status.finished == NOW
    assert events[-1][1] == last_event
    assert all(isinstance(a, rolling.Deploy) for a in actions[:-1])
    [ready] = status.conditions
    assert ready.status == "False" and ready.reason == phase
    assert not any(isinstance(a, rolling.Deploy) and "c" in a.nodes for a in actions)  # it stopped there


@pytest.mark.parametrize(
    ("latest", "phase", "reason", "message"),
    [
        ({"version": "v2"}, "Failed", "Superseded", "superseded by version v2 before batch 2"),
        ({"pause": True}, "Paused", None, "paused before batch 2 of 3"),
    ],
)
def test_a_new_version_or_pause_is_seen_before_the_next_batch(
    latest: dict[str, Any], phase: str, reason: str | None, message: str
) -> None:
    rollout = _rollout()
    first = rolling.step(rollout, RolloutStatus(), THREE, NOW)
    done = rolling.batch_done(rollout, first.status, rolling.Deploy(1, ["a"]), {}, 3, NOW)
    step = rolling.step(rollout, done.status, THREE, NOW, latest=_rollout(**latest))
    assert step.action is None and step.status.phase == phase and step.status.message == message
    assert [e.reason for e in step.events] == ([reason] if reason else [])
    assert step.status.node("b").state == "pending"  # nothing started on the next batch


def test_a_resumed_rollout_starts_at_the_first_batch_not_done_without_starting_again() -> None:
    rollout = _rollout()
    first = rolling.step(rollout, RolloutStatus(), THREE, NOW)
    done = rolling.batch_done(rollout, first.status, rolling.Deploy(1, ["a"]), {}, 3, NOW)
    resumed = rolling.step(rollout, done.status, THREE, NOW)  # e.g. after an operator restart
    assert resumed.action == rolling.Deploy(2, ["b"])
    assert [e.reason for e in resumed.events] == ["BatchStarted"]
    assert resumed.status.started == first.status.started


def test_skipped_nodes_are_said_once_and_kept_out_of_every_batch() -> None:
    nodes = rolling.Nodes(["a"], {"b": "EdgeNode is Offline"}, {"b": "Offline"})
    status, events, actions = _drive(_rollout(), nodes, {})
    assert actions == [rolling.Deploy(1, ["a"])]
    assert events[0] == ("Warning", "NodesSkipped") and status.node("b").state == "skipped"
    assert status.message == "version v1 on 1 node(s); 1 node(s) skipped: b (Offline)"


def test_a_finished_version_is_left_alone_and_nothing_is_saved() -> None:
    status, _, _ = _drive(_rollout(), THREE, {})
    again = rolling.step(_rollout(), status, THREE, NOW)
    assert again.action is None and not again.save and not again.events and again.status is status


def test_no_node_to_go_to_fails_with_no_targets_and_touches_nothing() -> None:
    step = rolling.step(_rollout(), RolloutStatus(), rolling.Nodes([]), NOW)
    assert step.action is None and step.status.phase == "Failed" and step.status.nodes == []
    assert [(e.type, e.reason) for e in step.events] == [("Warning", "NoTargets")]
    assert rolling.found_no_targets(step.status)


def test_a_decision_never_changes_the_status_it_was_given() -> None:
    given = RolloutStatus()
    rolling.step(_rollout(), given, THREE, NOW)
    assert given == RolloutStatus()
    first = rolling.step(_rollout(), given, THREE, NOW)
    snapshot = first.status.model_copy(deep=True)
    rolling.batch_done(_rollout(), first.status, rolling.Deploy(1, ["a"]), {"a": "x"}, 3, NOW)
    assert first.status == snapshot
