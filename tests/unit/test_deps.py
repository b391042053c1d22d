"""dependsOn: apply order, cycles named, waiting messages, and the reconcile step that waits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clockwork import deps
from clockwork.api.registry import KINDS, status_model
from clockwork.plan import HostSpec
from clockwork.reconcile import Inputs, Observations, step


def test_dependencies_come_first_and_the_rest_keeps_its_order() -> None:
    refs = ["app", "db", "cache", "config"]
    # whatever is free to go next goes in the order it was declared
    assert deps.order(refs, {"app": ["db", "cache"], "db": ["config"]}) == ["cache", "config", "db", "app"]
    assert deps.order(refs, {}) == refs


def test_unknown_dependencies_are_left_to_the_driver() -> None:
    assert deps.order(["a", "b"], {"a": ["elsewhere"]}) == ["a", "b"]


@pytest.mark.parametrize(
    ("edges", "cycle"),
    [
        ({"a": ["b"], "b": ["c"], "c": ["a"]}, "a -> b -> c -> a"),
        ({"a": ["a"]}, "a -> a"),
        ({"x": ["a"], "a": ["b"], "b": ["a"]}, "a -> b -> a"),
    ],
)
def test_a_cycle_is_an_error_that_names_it(edges: dict[str, list[str]], cycle: str) -> None:
    refs = sorted({*edges, *(d for ds in edges.values() for d in ds)})
    with pytest.raises(deps.DependencyCycle) as caught:
        deps.order(refs, edges)
    assert str(caught.value) == f"dependsOn has a cycle: {cycle}"


def test_waiting_message_names_what_is_missing_and_what_is_not_ready() -> None:
    assert deps.waiting_for(["File/a"], {"File/a": True}) is None
    message = deps.waiting_for(["File/a", "Container/db", "File/b"], {"File/a": True, "Container/db": False})
    assert message == "waiting for dependencies (not found: File/b; not Ready yet: Container/db)"


def test_converge_waits_before_completing_and_looks_again_soon() -> None:
    info = KINDS["File"]
    spec = info.spec_model.model_validate(
        {"path": "/srv/a", "content": "x", "dependsOn": [{"kind": "Container", "name": "db"}]}
    )
    inputs = Inputs(
        info=info, spec=spec, generation=1, now=datetime(2026, 1, 1, tzinfo=UTC), targets=["@local"],
        inventory={"@local": HostSpec(name="@local")}, waiting_for="waiting for dependencies (not found: Container/db)",
    )  # fmt: skip
    result = step(inputs, status_model(info)(), Observations())
    assert result.actions == []
    applied = result.status.condition("Applied")
    assert (applied.status, applied.reason) == ("False", "WaitingForDependencies")
    assert result.status.condition("Ready").status == "False"
    assert result.wake_after == 10.0
    assert [(e.reason, e.message) for e in result.events] == [
        ("WaitingForDependencies", "waiting for dependencies (not found: Container/db)")
    ]


def test_dependency_kind_and_name_are_validated() -> None:
    with pytest.raises(ValueError, match=r"dependsOn\.0\.kind"):
        KINDS["File"].spec_model.model_validate({"dependsOn": [{"kind": "Pod", "name": "x"}]})
