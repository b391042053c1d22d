"""Cron -> systemd OnCalendar: the translation as a table (tests/support/cron_cases.py) and the
refusals; tests/tools/test_cron_systemd.py checks every row against systemd itself."""

from __future__ import annotations

import re

import pytest

from clockwork.api import cron
from tests.support.cron_cases import TABLE


@pytest.mark.parametrize(("expression", "expected"), TABLE)
def test_translation(expression: str, expected: list[str]) -> None:
    assert cron.on_calendar(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "needs 5 fields"),
        ("61 * * * *", "cron minute: 61 is outside 0-59"),
        ("* 24 * * *", "cron hour: 24 is outside 0-23"),
        ("* * 0 * *", "cron day of month: 0 is outside 1-31"),
        ("* * * 13 *", "cron month: 13 is outside 1-12"),
        ("* * * * 8", "cron day of week: 8 is outside 0-7"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("5-1 * * * *", "range '5-1' runs backwards"),
        ("* * * foo *", "cron month: 'foo' is not a number or a name"),
        ("1,,2 * * * *", "empty list item"),
        ("@sometimes", "needs 5 fields"),
    ],
)
def test_bad_expressions_name_the_field_and_rule(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        cron.parse(expression)


def test_reboot_has_no_calendar() -> None:
    assert cron.parse("@reboot").at_boot
    assert cron.on_calendar("@reboot") == []
