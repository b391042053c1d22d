"""The operator driver's Kubernetes-facing helpers, without an API server.

Covers: reading our part of a body's status (tolerating kopf's and unknown keys,
starting afresh from garbage); the status merge patch nulls what we dropped and
leaves others' fields alone; the per-object state is keyed by uid.
"""

from __future__ import annotations

from typing import Any

from clockwork.api.registry import KINDS, status_model
from clockwork.config import Settings
from clockwork.operator.driver import OperatorDriver
from clockwork.operator.status import read_status, status_patch

FILE = KINDS["File"]


def test_read_status_keeps_ours_and_ignores_the_rest() -> None:
    raw = {"observedGeneration": 3, "target": "local", "kopf": {"progress": {}}, "somethingElse": 1}
    status = read_status(FILE, raw)
    assert status.observed_generation == 3
    assert status.target == "local"


def test_unreadable_status_starts_afresh() -> None:
    status = read_status(FILE, {"conditions": "not a list"})
    assert status.conditions == []


def test_status_patch_nulls_dropped_fields_only() -> None:
    status = status_model(FILE)(observed_generation=2, target="local")
    previous = {"observedGeneration": 1, "completed": {"path": "/x"}, "kopf": {"x": 1}}
    patch = status_patch(status, previous)
    assert patch["observedGeneration"] == 2
    assert patch["completed"] is None  # ours, dropped now: cleared
    assert "kopf" not in patch  # not ours: untouched


def test_object_state_is_per_uid() -> None:
    async def patch(*_: Any) -> None:
        return None

    driver = OperatorDriver(Settings(), post_event=lambda *_: None, patch_status=patch)
    a = {"metadata": {"uid": "u1", "name": "a"}}
    assert driver.state(a) is driver.state({"metadata": {"uid": "u1", "name": "renamed"}})
    assert driver.state(a) is not driver.state({"metadata": {"uid": "u2", "name": "a"}})
    driver.forget(a)
    assert "u1" not in driver.objects
