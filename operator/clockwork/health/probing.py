"""What every check shares: probe ids (one read per distinct fact) and reading a probe's result."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from clockwork.health.commands import NONE_MARKER
from clockwork.plan import CommandProbe, FactProbe, HostResult, Probe, ProbeResult


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str


def _id(kind: str, payload: Any) -> str:
    digest = hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
    return f"{kind}:{digest}"


def command_probe(command: str, timeout: int = 30) -> CommandProbe:
    return CommandProbe(id=_id("cmd", [command, timeout]), command=command, timeout_seconds=timeout)


def fact_probe(fact: str, **args: Any) -> FactProbe:
    return FactProbe(id=_id(fact, args), fact=fact, args=args)  # type: ignore[arg-type]


def probe_result(host: HostResult, probe: Probe) -> ProbeResult | None:
    return host.probe(probe.id)


def command_output(host: HostResult, probe: Probe) -> tuple[str | None, str | None]:
    """(output, problem): the command's output, or why there is none."""
    found = probe_result(host, probe)
    if found is None:
        return None, "not checked"
    if not found.success:
        return None, found.error or "the check could not run"
    output = found.output_tail.strip()
    if output.startswith(NONE_MARKER):
        return None, output[len(NONE_MARKER) :].strip()
    return output, None


def number(text: str) -> float | None:
    try:
        return float(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
