"""Rollout: batches from batchSize / maxUnavailable, and the spec's own rules."""

from __future__ import annotations

from typing import Any

import pytest

from clockwork.api.registry import parse_resource
from clockwork.errors import InvalidResource
from clockwork.fleet import batches

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
