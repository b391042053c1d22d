"""User assertions from ``spec.health.assertions``, common to every kind."""

from __future__ import annotations

import re

from clockwork.api.common import AssertionResult, CommandAssertion, ResolvedCommon
from clockwork.plan import CommandProbe, HostResult, Probe, ProbeResult

DEFAULT_COMMAND_TIMEOUT = 30


def _probe_id(index: int) -> str:
    return f"assertion.{index}"


def assertion_name(assertion: CommandAssertion, index: int) -> str:
    return assertion.name or f"command[{index}]"


def probes(resource: ResolvedCommon) -> list[Probe]:
    return [
        CommandProbe(
            id=_probe_id(i),
            command=a.command,
            timeout_seconds=a.timeout_seconds or DEFAULT_COMMAND_TIMEOUT,
        )
        for i, a in enumerate(resource.health.assertions)
    ]


def evaluate(resource: ResolvedCommon, host: HostResult) -> list[AssertionResult]:
    return [
        AssertionResult(name=assertion_name(a, i), node=host.name, ok=problem is None, message=problem or "ok")
        for i, a in enumerate(resource.health.assertions)
        for problem in [_problem(a, host.probe(_probe_id(i)))]
    ]


def _problem(assertion: CommandAssertion, probe: ProbeResult | None) -> str | None:
    """What is wrong, in words, or None when the assertion holds."""
    if probe is None or not probe.success:
        return (probe.error if probe else None) or "not checked"
    want = assertion.expect_exit_code if assertion.expect_exit_code is not None else 0
    if probe.exit_code != want:
        return f"`{assertion.command}` exited {probe.exit_code}, want {want}: {probe.output_tail[-300:]}"
    if assertion.output_matches and not re.search(assertion.output_matches, probe.output_tail):
        return (
            f"output of `{assertion.command}` does not match /{assertion.output_matches}/: {probe.output_tail[-300:]}"
        )
    return None
