"""Each deployable kind is described once: one complete entry in clockwork.kinds per kind of the API."""

from __future__ import annotations

import dataclasses

import pytest

from clockwork import kinds
from clockwork.api.common import DEPLOYABLE_KINDS
from clockwork.api.registry import ALL_KINDS, FLEET_KINDS, KINDS
from clockwork.errors import InvalidResource


def test_every_api_kind_has_one_entry_and_every_entry_an_api_kind() -> None:
    assert list(kinds.KINDS) == list(KINDS) == list(DEPLOYABLE_KINDS)
    # The fleet layer drives the other kinds itself: nothing below it has a part of theirs.
    assert set(ALL_KINDS) == set(kinds.KINDS) | set(FLEET_KINDS)
    assert not set(kinds.KINDS) & set(FLEET_KINDS)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_an_entry_is_complete_and_describes_its_own_kind(name: str) -> None:
    entry = kinds.KINDS[name]
    assert entry.info is KINDS[name] and entry.name == name
    for part in dataclasses.fields(entry):
        assert getattr(entry, part.name) is not None, part.name
    assert callable(entry.compiler.apply) and callable(entry.compiler.destroy) and callable(entry.compiler.claims)
    assert callable(entry.health.assertions) and callable(entry.offline)
    assert entry.info.defaults.get("present") is True
    assert kinds.OFFLINE_RULES[name] is entry.offline


def test_settled_kinds_are_those_checked_once_after_apply() -> None:
    settled = {name for name, entry in kinds.KINDS.items() if entry.health.settled}
    assert settled == {"File", "Directory", "User", "Package", "GitRepo"}


def test_entry_of_an_unknown_kind_is_bad_input() -> None:
    with pytest.raises(InvalidResource):
        kinds.entry("Pod")
    with pytest.raises(InvalidResource):
        kinds.entry("EdgeNode")
