"""Clockwork's own PyInfra operations and the FileState fact, as data (tests/unit/operations/cases/).

Each case file is one operation call: its arguments, the facts the host reports, the commands
the operation must yield; with ``second_run``, the facts once those commands ran, where the
operation must yield nothing (it is idempotent). A case names every fact the operation asks
for (harness.FactTable refuses one it does not give).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clockwork.runners import ops
from tests.unit.operations.harness import commands, load

CASES = sorted((Path(__file__).parent / "cases").glob("*/*.json"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_operation(path: Path) -> None:
    case = load(path)
    operation = getattr(ops, path.parent.name)
    assert commands(operation, case["args"], case["facts"]) == case["commands"]
    if "second_run" in case:
        assert commands(operation, case["args"], case["second_run"]["facts"]) == [], "not idempotent"
    else:
        assert case["commands"] == [], "a case that changes something says what the host is like afterwards"


def test_every_operation_of_ours_has_cases() -> None:
    covered = {p.parent.name for p in CASES}
    ours = {fn.__name__ for fn in ops.OPERATIONS.values()} - {"package_index_update"}  # the stock apt/apk/dnf ones
    assert ours <= covered, f"no cases for {sorted(ours - covered)}"


def test_an_unknown_container_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown container runtime 'lxc'"):
        commands(ops.container, {"runtime": "lxc", "container": "web"}, {})


def test_a_fact_the_case_does_not_give_is_named() -> None:
    with pytest.raises(KeyError, match="FileState path=/etc/motd"):
        commands(ops.put, {"dest": "/etc/motd", "content": "x", "mode": "0644"}, {})


SHA = "0" * 63 + "1"


@pytest.mark.parametrize(
    ("output", "fact"),
    [
        (["absent"], None),
        (["file", "644 root adm 0 4", f"{SHA}  /etc/motd"], {"kind": "file", "mode": "644", "user": "root",
                                                              "group": "adm", "uid": "0", "gid": "4", "sha256": SHA}),
        (["link"], {"kind": "link"}),
        (["other"], {"kind": "other"}),
        (["file", "unknown"], {"kind": "unknown"}),  # stat -c or sha256sum missing: left to files.put
        (["file", "644 root root 0 0", "sha256sum: not found"], {"kind": "unknown"}),
        (["file", "644 root root", f"{SHA}  /etc/motd"], {"kind": "unknown"}),  # a stat without numbers
    ],
)  # fmt: skip
def test_file_state_fact(output: list[str], fact: dict[str, Any] | None) -> None:
    assert ops.FileState().process(output) == fact


def test_file_state_command_quotes_the_path() -> None:
    command = ops.FileState().command("/srv/my app/it's")
    assert "'/srv/my app/it'\"'\"'s'" in command and "/srv/my app/it's " not in command
