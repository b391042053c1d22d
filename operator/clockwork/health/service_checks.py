"""Checks of what runs on a node: HTTP, ports, containers, logs, processes, usage and commands."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from clockwork.api import assertions as a
from clockwork.health.commands import (
    CPU_COMMAND,
    MEMORY_COMMAND,
    STATUS_MARKER,
    container_command,
    disk_command,
    http_command,
    log_command,
    port_command,
    process_command,
)
from clockwork.health.probing import Verdict, command_output, command_probe, number, probe_result
from clockwork.plan import HostResult, Probe

# http


def _http_probes(check: a.HttpAssertion) -> list[Probe]:
    return [command_probe(http_command(check.url, check.timeout_seconds or 10), (check.timeout_seconds or 10) + 10)]


def _http_judge(check: a.HttpAssertion, host: HostResult) -> Verdict:
    output, problem = command_output(host, _http_probes(check)[0])
    if output is None:
        return Verdict(False, f"GET {check.url}: {problem}")
    head, _, body = output.partition("\n")
    fields = head.removeprefix(STATUS_MARKER).split()
    code = int(fields[0]) if fields and fields[0].isdigit() else 0
    seconds = number(fields[1]) if len(fields) > 1 else None
    want = check.expect_status or 200
    if code == 0:
        return Verdict(False, f"GET {check.url}: no answer ({' '.join(fields[2:]) or 'connection failed'})")
    if code != want:
        return Verdict(False, f"GET {check.url} answered {code}, want {want}")
    ms = int((seconds or 0) * 1000)
    if check.max_response_ms is not None and ms > check.max_response_ms:
        return Verdict(False, f"GET {check.url} took {ms} ms, more than {check.max_response_ms} ms")
    if check.body_matches and not re.search(check.body_matches, body):
        return Verdict(False, f"GET {check.url}: the body does not match /{check.body_matches}/: {body[:200]!r}")
    return Verdict(True, f"GET {check.url} answered {code} in {ms} ms")


# port


def _port_probes(check: a.PortAssertion) -> list[Probe]:
    return [command_probe(port_command(check.host or "127.0.0.1", check.port, check.protocol or "tcp"), 15)]


def _port_judge(check: a.PortAssertion, host: HostResult) -> Verdict:
    output, problem = command_output(host, _port_probes(check)[0])
    where = f"{check.protocol or 'tcp'} {check.host or '127.0.0.1'}:{check.port}"
    if output is None:
        return Verdict(False, f"{where}: {problem}")
    is_open = output.splitlines()[-1] == "open"
    want_open = check.open is not False
    if is_open == want_open:
        return Verdict(True, f"{where} is {'open' if is_open else 'closed'}")
    return Verdict(False, f"{where} is {'open' if is_open else 'closed'}, want {'open' if want_open else 'closed'}")


# containers


def _running_probes(check: a.ContainerRunningAssertion) -> list[Probe]:
    return [command_probe(container_command(check.runtime or "docker", "{{.State.Status}}", check.container))]


def _running_judge(check: a.ContainerRunningAssertion, host: HostResult) -> Verdict:
    output, problem = command_output(host, _running_probes(check)[0])
    if output is None:
        return Verdict(False, f"container {check.container}: {problem}")
    state = output.splitlines()[-1]
    if state == "running":
        return Verdict(True, f"container {check.container} is running")
    if "no such" in output.lower():
        return Verdict(False, f"container {check.container} does not exist")
    return Verdict(False, f"container {check.container} is {state}, want running")


_HEALTH_TEMPLATE = "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}"


def _healthy_probes(check: a.ContainerHealthyAssertion) -> list[Probe]:
    return [command_probe(container_command(check.runtime or "docker", _HEALTH_TEMPLATE, check.container))]


def _healthy_judge(check: a.ContainerHealthyAssertion, host: HostResult) -> Verdict:
    output, problem = command_output(host, _healthy_probes(check)[0])
    if output is None:
        return Verdict(False, f"container {check.container}: {problem}")
    state = output.splitlines()[-1]
    if state == "healthy":
        return Verdict(True, f"container {check.container} is healthy")
    if state == "none":
        return Verdict(False, f"container {check.container} has no HEALTHCHECK to report health")
    if "no such" in output.lower():
        return Verdict(False, f"container {check.container} does not exist")
    return Verdict(False, f"container {check.container} health is {state}")


# logs


def _log_probes(check: a.LogContainsAssertion) -> list[Probe]:
    return [command_probe(log_command(check))]


def _log_judge(check: a.LogContainsAssertion, host: HostResult) -> Verdict:
    output, problem = command_output(host, _log_probes(check)[0])
    source = f"container {check.container}" if check.container else (f"unit {check.unit}" if check.unit else check.path)
    if output is None:
        return Verdict(False, f"log of {source}: {problem}")
    count = number(output) or 0
    lines = check.lines or 200
    if count > 0:
        return Verdict(True, f"{int(count)} of the last {lines} lines of {source} match /{check.pattern}/")
    return Verdict(False, f"none of the last {lines} lines of {source} match /{check.pattern}/")


# processes and resources


def _process_probes(check: a.ProcessRunningAssertion | a.ProcessNotRunningAssertion) -> list[Probe]:
    return [command_probe(process_command(check.pattern))]


def _process_judge(check: a.ProcessRunningAssertion | a.ProcessNotRunningAssertion, host: HostResult) -> Verdict:
    output, problem = command_output(host, _process_probes(check)[0])
    if output is None:
        return Verdict(False, f"processes /{check.pattern}/: {problem}")
    count = int(number(output) or 0)
    want_running = isinstance(check, a.ProcessRunningAssertion)
    if want_running:
        ok = count > 0
        return Verdict(
            ok, f"{count} process(es) match /{check.pattern}/" if ok else f"no process matches /{check.pattern}/"
        )
    ok = count == 0
    return Verdict(
        ok, f"no process matches /{check.pattern}/" if ok else f"{count} process(es) match /{check.pattern}/, want none"
    )


def _usage(label: str, probe: Probe, limit: float, host: HostResult) -> Verdict:
    output, problem = command_output(host, probe)
    value = number(output) if output is not None else None
    if value is None:
        return Verdict(False, f"{label} usage: {problem or 'unreadable: ' + str(output)[:100]}")
    if value > limit:
        return Verdict(False, f"{label} usage is {value:.1f}%, more than {limit:g}%")
    return Verdict(True, f"{label} usage is {value:.1f}%")


def _memory_probes(check: a.MemoryUsageAssertion) -> list[Probe]:
    return [command_probe(MEMORY_COMMAND)]


def _memory_judge(check: a.MemoryUsageAssertion, host: HostResult) -> Verdict:
    return _usage("memory", _memory_probes(check)[0], check.max_percent, host)


def _cpu_probes(check: a.CpuUsageAssertion) -> list[Probe]:
    return [command_probe(CPU_COMMAND)]


def _cpu_judge(check: a.CpuUsageAssertion, host: HostResult) -> Verdict:
    return _usage("CPU", _cpu_probes(check)[0], check.max_percent, host)


def _disk_probes(check: a.DiskUsageAssertion) -> list[Probe]:
    return [command_probe(disk_command(check.path or "/"))]


def _disk_judge(check: a.DiskUsageAssertion, host: HostResult) -> Verdict:
    return _usage(f"disk ({check.path or '/'})", _disk_probes(check)[0], check.max_percent, host)


# command


def _command_probes(check: a.CommandAssertion) -> list[Probe]:
    return [command_probe(check.command, check.timeout_seconds or 30)]


def _command_judge(check: a.CommandAssertion, host: HostResult) -> Verdict:
    found = probe_result(host, _command_probes(check)[0])
    if found is None or not found.success:
        return Verdict(False, (found.error if found else None) or "not checked")
    want = check.expect_exit_code if check.expect_exit_code is not None else 0
    # A kind's own check is a generated script: its name says more than its text.
    shown = f"`{check.command}`" if len(check.command) <= SHOWN_COMMAND else f"the {check.name} check"
    output = found.output_tail[-300:].strip()
    if found.exit_code != want:
        return Verdict(False, f"{shown} exited {found.exit_code}, want {want}: {output}")
    if check.output_matches and not re.search(check.output_matches, found.output_tail):
        return Verdict(False, f"output of {shown} does not match /{check.output_matches}/: {output}")
    return Verdict(True, "ok")


SHOWN_COMMAND = 120


# What each of these assertions reads and how it is judged (merged into checks._CHECKS).
CHECKS: dict[type, tuple[Callable[[Any], list[Probe]], Callable[[Any, HostResult], Verdict]]] = {
    a.HttpAssertion: (_http_probes, _http_judge),
    a.PortAssertion: (_port_probes, _port_judge),
    a.ContainerRunningAssertion: (_running_probes, _running_judge),
    a.ContainerHealthyAssertion: (_healthy_probes, _healthy_judge),
    a.LogContainsAssertion: (_log_probes, _log_judge),
    a.ProcessRunningAssertion: (_process_probes, _process_judge),
    a.ProcessNotRunningAssertion: (_process_probes, _process_judge),
    a.MemoryUsageAssertion: (_memory_probes, _memory_judge),
    a.CpuUsageAssertion: (_cpu_probes, _cpu_judge),
    a.DiskUsageAssertion: (_disk_probes, _disk_judge),
    a.CommandAssertion: (_command_probes, _command_judge),
}
