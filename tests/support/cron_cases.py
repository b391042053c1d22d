"""Cron expressions and the OnCalendar= lines Clockwork writes for them: the table both
tests/unit/test_cron.py (the translation) and tests/tools/test_cron_systemd.py (systemd itself
computing the firings) use."""

from __future__ import annotations

TABLE = [
    ("*/15 * * * *", ["*-*-* *:00,15,30,45:00"]),
    ("30 2 * * 1-5", ["Mon,Tue,Wed,Thu,Fri *-*-* 02:30:00"]),
    ("0 0 1 * *", ["*-*-01 00:00:00"]),
    ("@hourly", ["*-*-* *:00:00"]),
    ("@daily", ["*-*-* 00:00:00"]),
    ("@weekly", ["Sun *-*-* 00:00:00"]),
    ("@yearly", ["*-01-01 00:00:00"]),
    ("5 4 * * sun", ["Sun *-*-* 04:05:00"]),
    ("0 22 * * 7", ["Sun *-*-* 22:00:00"]),
    ("0 9-17/4 * jan,jul *", ["*-01,07-* 09,13,17:00:00"]),
    ("0 0 1,15 * 3", ["*-*-01,15 00:00:00", "Wed *-*-* 00:00:00"]),
    ("0 12 */10 * *", ["*-*-01,11,21,31 12:00:00"]),
    ("0 6 * * */2", ["Sun,Tue,Thu,Sat *-*-* 06:00:00"]),
    ("59 23 31 12 *", ["*-12-31 23:59:00"]),
]
