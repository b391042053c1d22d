"""Cron -> systemd OnCalendar, checked against systemd itself.

For every expression of the table (tests/support/cron_cases.py), the next firings systemd
computes for our OnCalendar= lines (`systemd-analyze calendar --base-time`) must equal the
firings of a small independent cron evaluator written here from cron's rules.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from clockwork.api import cron
from tests.support.cron_cases import TABLE

BASE = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)  # a Thursday
FIRINGS = 6


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize(("expression", "expected"), TABLE)
def test_systemd_fires_when_cron_would(expression: str, expected: list[str]) -> None:
    assert cron.on_calendar(expression) == expected
    assert _systemd_firings(expected) == _cron_firings(expression)


# --- an independent evaluator, straight from crontab(5) -----------------------------------

MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
NAMES = {
    **{m: i + 1 for i, m in enumerate(MONTH_NAMES)},
    **{d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@yearly": "0 0 1 1 *"}


def _expand(text: str, low: int, high: int) -> set[int]:
    found: set[int] = set()
    for item in text.split(","):
        rng, _, step = item.partition("/")
        if rng == "*":
            a, b = low, high
        elif "-" in rng:
            a, b = (int(NAMES.get(x, x)) for x in rng.split("-"))
        else:
            a = int(NAMES.get(rng, rng))
            b = high if step else a
        found |= set(range(a, b + 1, int(step or 1)))
    return found


def _cron_firings(expression: str) -> list[datetime]:
    fields = MACROS.get(expression, expression).split()
    minutes, hours = _expand(fields[0], 0, 59), _expand(fields[1], 0, 23)
    days, months = _expand(fields[2], 1, 31), _expand(fields[3], 1, 12)
    weekdays = {d % 7 for d in _expand(fields[4], 0, 7)}
    dom_star, dow_star = fields[2].startswith("*"), fields[4].startswith("*")
    found: list[datetime] = []
    day = BASE
    while len(found) < FIRINGS:
        in_dom, in_dow = day.day in days, (day.isoweekday() % 7) in weekdays
        matches = (in_dom and in_dow) if (dom_star or dow_star) else (in_dom or in_dow)
        if day.month in months and matches:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    when = day.replace(hour=hour, minute=minute)
                    if when > BASE and len(found) < FIRINGS:
                        found.append(when)
        day += timedelta(days=1)
    return found


def _systemd_firings(lines: list[str]) -> list[datetime]:
    found: set[datetime] = set()
    for line in lines:
        out = subprocess.run(
            ["systemd-analyze", "calendar", f"--iterations={FIRINGS}", "--base-time=2026-01-01 00:00:00 UTC", line],
            capture_output=True,
            text=True,
            check=True,
            env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        ).stdout
        for stamp in re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", out):
            found.add(datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC))
    return sorted(found)[:FIRINGS]
