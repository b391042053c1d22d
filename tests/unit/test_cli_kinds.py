"""`clockwork plan` and `clockwork status` on one example manifest per kind, in process.

Every kind Clockwork serves has its example (manifests/examples/<kind>.yaml); plan shows
each of them (a fleet kind says what applying will do) and status shows a table per kind
from its printer columns, whether a kind's Ready condition or its phase says it is where
it should be. Neither may end in a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from clockwork.api.base import utcnow
from clockwork.api.registry import ALL_KINDS, KindBase
from clockwork.cli import main
from clockwork.local import load
from clockwork.store import LocalStore, StoredResource
from tests.conftest import REPO

EXAMPLES = [REPO / "manifests" / "examples" / f"{kind.lower()}.yaml" for kind in ALL_KINDS]


def _run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def _files(paths: list[Path]) -> list[str]:
    return [arg for path in paths for arg in ("-f", str(path))]


def _where_it_should_be(info: KindBase) -> dict[str, Any]:
    """A recorded status that says the resource is where it should be, the way its kind says it."""
    if info.ready_phases is not None:
        return {"phase": info.ready_phases[0], "message": "as it should be"}
    return {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "as it should be",
                            "lastTransitionTime": utcnow().isoformat()}]}  # fmt: skip


def test_every_kind_has_an_example() -> None:
    assert [path for path in EXAMPLES if not path.is_file()] == []


def test_plan_every_kind(tmp_path: Path) -> None:
    shown = _run("plan", *_files(EXAMPLES), "--state-dir", str(tmp_path / "state"))
    assert shown.exit_code == 0, shown.output
    for item in load(EXAMPLES):  # a fleet kind is planned in one sentence; a deployable is completed
        said = "planned" if ALL_KINDS[item.kind].ready_phases is not None else "complete"
        assert f"{item.ref}  {said}" in shown.output, item.ref


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_status_of_every_kind(tmp_path: Path, example: Path) -> None:
    state = tmp_path / "state"
    none_yet = _run("status", "-f", str(example), "--state-dir", str(state))
    assert none_yet.exit_code == 0 and "none of these resources is applied yet" in none_yet.output
    store = LocalStore(state)
    items = load([example])
    for item in items:
        now = utcnow()
        store.put(StoredResource(kind=item.kind, namespace=item.metadata.namespace, name=item.metadata.name,
                                 generation=1, spec_hash="0" * 16, spec={}, status=_where_it_should_be(
                                     ALL_KINDS[item.kind]), created=now, updated=now))  # fmt: skip
    store.close()
    shown = _run("status", "-f", str(example), "--state-dir", str(state))
    assert shown.exit_code == 0, shown.output
    for item in items:
        assert f"{item.kind} ({state})" in shown.output
        assert f"{item.metadata.namespace}/{item.metadata.name}" in shown.output
    assert "as it should be" in shown.output
