"""Rollout: batches from batchSize / maxUnavailable, the spec's own rules, and what a rollout with no nodes says."""

from __future__ import annotations

from typing import Any

import pytest

from clockwork import rollouts
from clockwork.api.registry import parse_resource
from clockwork.api.rollout import Rollout, RolloutStatus
from clockwork.errors import InvalidResource
from clockwork.fleet import batches, rolling

NODES = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (None, [["a"], ["b"], ["c"], ["d"], ["e"]]),
        (2, [["a", "b"], ["c", "d"], ["e"]]),
        ("2", [["a", "b"], ["c", "d"], ["e"]]),
        ("40%", [["a", "b"], ["c", "d"], ["e"]]),
        ("10%", [["a"], ["b"], ["c"], ["d"], ["e"]]),
        ("100%", [NODES]),
        (9, [NODES]),
    ],
)
def test_batches(amount: Any, expected: list[list[str]]) -> None:
    assert batches.plan(NODES, amount) == expected


def rollout(**spec: Any) -> dict[str, Any]:
    base = {"nodeSelector": {"site": "lab"}, "version": "v1",
            "resources": [{"kind": "File", "name": "f", "spec": {"path": "/srv/f", "content": "x"}}]}  # fmt: skip
    return {
        "apiVersion": "clockwork.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "r"},
        "spec": {**base, **spec},
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"strategy": {"batchSize": 2, "maxUnavailable": 1}}, "set batchSize or maxUnavailable, not both"),
        ({"strategy": {"batchSize": "150%"}}, "must be a count (e.g. 2) or a percentage"),
        ({"strategy": {"maxUnavailable": 0}}, "must be at least 1"),
        ({"resources": [{"kind": "File", "name": "f", "spec": {"path": "relative"}}]}, "File f: spec.path"),
        (
            {"resources": [{"kind": "File", "name": "f", "spec": {"target": {"local": True}}}]},
            "a rollout chooses the nodes",
        ),
        ({"resources": [{"kind": "Pod", "name": "p", "spec": {}}]}, "resources.0.kind"),
        (
            {"resources": [{"kind": "File", "name": "f", "spec": {}}, {"kind": "File", "name": "f", "spec": {}}]},
            "File/f appear more than once",
        ),
        ({"version": "v 2"}, "spec.version"),
        ({"nodeSelector": {}}, "spec.nodeSelector"),
    ],
)
def test_bad_rollouts_name_the_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidResource) as caught:
        parse_resource(rollout(**spec))
    assert message in str(caught.value)


def test_a_good_rollout_parses() -> None:
    parsed = parse_resource(rollout(strategy={"maxUnavailable": "25%"}, healthGate={"timeoutSeconds": 60}))
    assert parsed.kind == "Rollout"


# --- what a rollout says when its selector leaves it nowhere to go -------------------------------


def test_no_targets_names_the_rollouts_own_field() -> None:
    message = rolling.no_targets({"site": "lab", "tier": "edge"}, "shop", rolling.Nodes([]))
    assert message == "spec.nodeSelector: no EdgeNode in namespace 'shop' has the labels site=lab,tier=edge"
    assert "spec.target" not in message


def test_no_targets_when_every_matched_node_is_skipped_gives_each_phase_and_reason() -> None:
    skipped = {"node-b": "EdgeNode is Offline (last seen never seen): refused", "node-a": "set spec.sshKeyFile"}
    message = rolling.no_targets(
        {"site": "lab"}, "default", rolling.Nodes([], skipped, {"node-a": "Stale", "node-b": "Offline"})
    )
    assert message == (
        "spec.nodeSelector: no EdgeNode with the labels site=lab can be rolled out to: "
        "node-a (Stale): set spec.sshKeyFile; node-b (Offline): EdgeNode is Offline (last seen never seen): refused"
    )


def test_nodes_to_go_to_are_not_a_problem() -> None:
    assert rolling.no_targets({"site": "lab"}, "default", rolling.Nodes(["node-a"], {"node-b": "x"})) is None


def test_skipped_nodes_are_reported_with_their_real_phase() -> None:
    phases: dict[str, str | None] = {"a": "Offline", "b": "Stale", "c": None}
    assert rolling.skipped_summary({"c": "", "b": "", "a": ""}, phases) == "a (Offline), b (Stale), c (Unknown)"
    message = rolling.completed_message("v2", rolling.Nodes(["d", "e"], {"b": "no key"}, phases))
    assert message == "version v2 on 2 node(s); 1 node(s) skipped: b (Stale)"
    assert rolling.completed_message("v2", rolling.Nodes(["d"], {}, phases)) == "version v2 on 1 node(s)"


class _Saves:
    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []

    async def __call__(self, status: RolloutStatus) -> None:
        self.saved.append(status.wire())


def _run(targets: list[str], skipped: dict[str, str], phases: dict[str, str | None]) -> tuple[Any, _Saves]:
    saves = _Saves()
    # No node to go to: the rollout ends before it would ever use the driver.
    ctx = rollouts.RolloutRun(None, targets, skipped, {}, saves, phases=phases)  # type: ignore[arg-type]
    return ctx, saves


def _parsed(**spec: Any) -> Rollout:
    parsed = parse_resource(rollout(**spec))
    assert isinstance(parsed, Rollout)
    return parsed


@pytest.mark.parametrize(
    ("skipped", "phases", "words"),
    [
        ({}, {}, "no EdgeNode in namespace 'default' has the labels site=lab"),
        ({"node-a": "set spec.sshKeyFile"}, {"node-a": "Stale"}, "node-a (Stale): set spec.sshKeyFile"),
    ],
)
async def test_a_rollout_with_no_targets_fails_with_reason_no_targets(
    skipped: dict[str, str], phases: dict[str, str | None], words: str
) -> None:
    ctx, saves = _run([], skipped, phases)
    status = await rollouts.run(_parsed(), RolloutStatus(), ctx)
    assert status.phase == "Failed" and status.version == "v1"
    assert words in status.message and status.message.startswith("spec.nodeSelector: ")
    [ready] = status.conditions
    assert (ready.type, ready.status, ready.reason, ready.message) == ("Ready", "False", "NoTargets", status.message)
    assert [(e.type, e.reason) for e in ctx.events] == [("Warning", "NoTargets")]
    assert saves.saved[-1]["phase"] == "Failed"
    assert status.nodes == []  # nothing was touched


async def test_no_targets_is_tried_again_and_leaves_the_last_version_alone() -> None:
    """A finished v1, then v2 finds no nodes: v2 fails NoTargets, the nodes still say v1, the next run retries."""
    status = RolloutStatus(version="v1", phase="Completed", message="version v1 on 1 node(s)")
    status.node("node-a").version = "v1"
    ctx, _ = _run([], {}, {})
    after = await rollouts.run(_parsed(version="v2"), status, ctx)
    assert after.phase == "Failed" and after.version == "v2"
    assert [(n.name, n.version) for n in after.nodes] == [("node-a", "v1")]
    assert rolling.found_no_targets(after)
    # Same version again, still nowhere to go: not taken as this version's end, judged again.
    again, _ = _run([], {"node-a": "down"}, {"node-a": "Offline"})
    final = await rollouts.run(_parsed(version="v2"), after, again)
    assert "node-a (Offline): down" in final.message and [e.reason for e in again.events] == ["NoTargets"]


async def test_a_rollout_that_failed_a_batch_is_not_retried() -> None:
    done = RolloutStatus(version="v1", phase="Failed", message="batch 1 failed")
    assert not rolling.found_no_targets(done)
    ctx, saves = _run([], {}, {})
    after = await rollouts.run(_parsed(), done, ctx)
    assert after.message == "batch 1 failed" and ctx.events == [] and saves.saved == []
