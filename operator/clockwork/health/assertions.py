"""User assertions from ``spec.health.assertions``, common to every kind."""

from __future__ import annotations

import re

from clockwork.api.common import AssertionResult, CommandAssertion, ResolvedCommon
from clockwork.plan import CommandProbe, HostResult, Probe

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
    results = []
    for i, assertion in enumerate(resource.health.assertions):
        name = assertion_name(assertion, i)
        probe = host.probe(_probe_id(i))
        if probe is None or not probe.success:
            reason = probe.error if probe else "not checked"
            results.append(AssertionResult(name=name, node=host.name, ok=False, message=f"{reason}"))
            continue
        want = assertion.expect_exit_code if assertion.expect_exit_code is not None else 0
        if probe.exit_code != want:
            results.append(
                AssertionResult(
                    name=name,
                    node=host.name,
                    ok=False,
                    message=f"`{assertion.command}` exited {probe.exit_code}, want {want}: "
                    f"{probe.output_tail[-300:]}",
                )
            )
            continue
        if assertion.output_matches and not re.search(assertion.output_matches, probe.output_tail):
            results.append(
                AssertionResult(
                    name=name,
                    node=host.name,
                    ok=False,
                    message=f"output of `{assertion.command}` does not match "
                    f"/{assertion.output_matches}/: {probe.output_tail[-300:]}",
                )
            )
            continue
        results.append(AssertionResult(name=name, node=host.name, ok=True, message="ok"))
    return results
