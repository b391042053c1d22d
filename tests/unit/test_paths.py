"""The path rules (clockwork.paths), as data: each case a path and the rule that refuses it.

Covers: plain paths only; allowed roots, never a root itself or a parent of one;
the deny list (system trees, package-manager state, polkit, cron, ssh, Clockwork's
own state, dotfiles in home directories, credential names anywhere); a node's
state folder; and the system directories no resource may manage whoever wrote them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from clockwork import paths

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "cases" / "paths.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["path"] for c in CASES])
def test_path_rule(case: dict[str, Any]) -> None:
    roots = tuple(case.get("roots", paths.DEFAULT_ALLOWED_ROOTS))
    found = paths.judge(case["path"], roots, state_dir=case.get("state_dir"))
    assert (found.rule if found else None) == case["rule"], found
    if found is not None:
        assert case["path"].rstrip("/") in found.message or found.rule == "normalised-path"


def test_every_deny_rule_is_exercised_by_some_case_kind() -> None:
    kinds = {paths.denied(c["path"]).kind for c in CASES if c["rule"] == "sensitive-path" and paths.denied(c["path"])}
    assert kinds == {"tree", "component", "name", "home-dotfile"}


@pytest.mark.parametrize("path", ["/", "/tmp", "/home", "/var/lib", "/etc", "/usr/local/bin", "/var/lib/clockwork"])
def test_system_directories_are_protected_for_everyone(path: str) -> None:
    assert paths.protected(path) is not None
    assert paths.protected(path + "/app") is None
