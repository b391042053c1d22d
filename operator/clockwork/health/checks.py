"""Every assertion type as probes (what the runner reads on the node) and a judge.

Probes are facts or small POSIX shell commands that work on minimal systems
(busybox, Debian minbase): each command prefers what is there (curl, then
python3, then wget; bash /dev/tcp, then python3, then nc). A probe's id is a hash
of what it reads, so that two assertions needing the same fact read it once. The
judges are pure and say what is wrong in words a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clockwork.api.assertions import Assertion
from clockwork.health import file_checks, service_checks
from clockwork.health.probing import Verdict
from clockwork.plan import HostResult, Probe


def probes_of(check: Assertion) -> list[Probe]:
    return list(_CHECKS[type(check)][0](check))


def judge(check: Assertion, host: HostResult) -> Verdict:
    return _CHECKS[type(check)][1](check, host)


def default_name(check: Assertion) -> str:
    if check.name:
        return check.name
    subject = (
        getattr(check, "url", None) or getattr(check, "path", None) or getattr(check, "container", None)
        or getattr(check, "pattern", None) or getattr(check, "port", None) or getattr(check, "command", None) or ""
    )  # fmt: skip
    return f"{check.type} {subject}".strip()[:63]


_CHECKS: dict[type, tuple[Callable[[Any], list[Probe]], Callable[[Any, HostResult], Verdict]]] = {
    **service_checks.CHECKS,
    **file_checks.CHECKS,
}
