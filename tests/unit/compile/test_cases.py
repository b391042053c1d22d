"""compile/ as data, in the pyinfra style: each case file is a spec in and operations out.

Cases live in ``cases/<kind>/<case>.yaml`` with ``spec`` (what a user writes;
defaults are filled as the reconcile core would), optionally ``proposed`` (fields a
completer filled) and ``roots``, then ``apply`` and ``destroy``. The owner of the
plan's claims is ``Kind/default/<case>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from clockwork import compile as compiler
from clockwork import kinds
from clockwork.api.registry import KINDS
from clockwork.completion.pipeline import with_defaults

CASES = Path(__file__).parent / "cases"
KIND_DIRS = {info.kind.lower(): info for info in KINDS.values()}


def _cases() -> list[tuple[str, Path]]:
    return [(f"{p.parent.name}/{p.stem}", p) for p in sorted(CASES.glob("*/*.yaml"))]


@pytest.mark.parametrize(("case", "path"), _cases(), ids=[c for c, _ in _cases()])
def test_case(case: str, path: Path) -> None:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    info = KIND_DIRS[path.parent.name]
    completion = with_defaults(info, data["spec"])
    resolved = info.resolved_model.model_validate(completion.completed, by_alias=True, by_name=False)
    ctx = compiler.Context(
        owner=f"{info.kind}/default/{path.stem}",
        proposed=frozenset(data.get("proposed", [])),
        roots=tuple(data.get("roots", compiler.Context().roots)),
    )
    plans = kinds.KINDS[info.kind].compiler
    assert [op.wire() for op in compiler.compile_apply(plans, resolved, ctx)] == data["apply"]
    assert [op.wire() for op in compiler.compile_destroy(plans, resolved, ctx)] == data["destroy"]


def test_every_kind_with_a_compiler_has_cases() -> None:
    assert {p.parent.name for _, p in _cases()} == {k.lower() for k in kinds.KINDS}
