"""Cron expressions -> systemd timer OnCalendar= lines. Pure.

Five fields (minute hour day-of-month month day-of-week) with ``*``, lists,
ranges, steps and names, or a macro (@hourly, @daily, @weekly, @monthly, @yearly,
@annually, @midnight, @reboot). Each field becomes its explicit set of values, so
the translation means exactly what cron means. One cron rule systemd cannot say in
one line: when both day fields are restricted, cron runs on either — that becomes
two OnCalendar= lines.
"""

from __future__ import annotations

from dataclasses import dataclass

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                          "nov", "dec"))}  # fmt: skip
DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


@dataclass(frozen=True)
class Schedule:
    """A parsed cron expression: the explicit values of each field, or a boot trigger."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool
    at_boot: bool = False


def _value(text: str, name: str, low: int, high: int) -> int:
    names = MONTHS if name == "month" else (DAYS if name == "day of week" else {})
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"cron {name}: {text!r} is not a number{' or a name' if names else ''}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"cron {name}: {value} is outside {low}-{high}")
    return value


def _field(text: str, name: str, low: int, high: int) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"cron {name}: empty list item in {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"cron {name}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(first, name, low, high), _value(last, name, low, high)
            if start > end:
                raise ValueError(f"cron {name}: range {base!r} runs backwards")
        else:
            start = _value(base, name, low, high)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    # As cron does: a field that starts with "*" (also "*/2") does not restrict the day.
    restricted = not text.startswith("*")
    if name == "day of week":
        values = {0 if v == 7 else v for v in values}
    return frozenset(values), restricted


def parse(expression: str) -> Schedule:
    """A Schedule, or ValueError naming the field and the rule."""
    text = expression.strip()
    if text == "@reboot":
        empty: frozenset[int] = frozenset()
        return Schedule(empty, empty, empty, empty, empty, False, False, at_boot=True)
    text = MACROS.get(text, text)
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(
            f"cron expression {expression!r} needs 5 fields (minute hour day-of-month month day-of-week) "
            f"or a macro ({', '.join(sorted({*MACROS, '@reboot'}))}); it has {len(parts)}"
        )
    fields = [_field(p, name, low, high) for p, (name, low, high) in zip(parts, FIELDS, strict=True)]
    (minutes, _), (hours, _), (days, days_r), (months, _), (weekdays, weekdays_r) = fields
    return Schedule(minutes, hours, days, months, weekdays, days_r, weekdays_r)


def _list(values: frozenset[int], low: int, high: int, width: int = 2) -> str:
    if values == frozenset(range(low, high + 1)):
        return "*"
    return ",".join(f"{v:0{width}d}" for v in sorted(values))


def on_calendar(expression: str) -> list[str]:
    """The OnCalendar= values for a cron expression (empty for @reboot: see ``at_boot``)."""
    schedule = parse(expression)
    if schedule.at_boot:
        return []
    time = f"{_list(schedule.hours, 0, 23)}:{_list(schedule.minutes, 0, 59)}:00"
    months = _list(schedule.months, 1, 12)

    def line(weekdays: frozenset[int] | None, days: frozenset[int] | None) -> str:
        day_text = _list(days, 1, 31) if days is not None else "*"
        prefix = ",".join(SYSTEMD_DAYS[d] for d in sorted(weekdays)) + " " if weekdays is not None else ""
        return f"{prefix}*-{months}-{day_text} {time}"

    all_weekdays = frozenset(range(7))
    if schedule.days_restricted and schedule.weekdays_restricted:
        # cron's one odd rule: both day fields restricted means either may match
        return [line(None, schedule.days), line(schedule.weekdays, None)]
    weekdays = schedule.weekdays if schedule.weekdays != all_weekdays else None
    return [line(weekdays, schedule.days)]
