"""The worker's results: a command probe's exit code, and PyInfra's outcome per host as a HostResult.

Imported by the worker only, after gevent has patched the standard library.
"""

from __future__ import annotations

from typing import Any

from pydantic import JsonValue
from pyinfra.api.host import Host
from pyinfra.api.state import State

from clockwork.plan import CommandProbe, HostOutcome, HostResult, OperationResult, ProbeResult, RunRequest, tail

_RC_MARKER = "__clockwork_rc="


def json_safe(value: Any) -> JsonValue:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def run_command_probe(host: Host, probe: CommandProbe) -> ProbeResult:
    # The exit code is not part of PyInfra's result, so the shell prints it last.
    wrapped = f"sh -c {_shell_quote(probe.command)} 2>&1; echo {_RC_MARKER}$?"
    ok, output = host.run_shell_command(wrapped, _timeout=probe.timeout_seconds)
    text = "\n".join(output.output_lines)
    exit_code: int | None = None
    # The marker may follow output that did not end in a newline: look for it anywhere.
    at = text.rfind(_RC_MARKER)
    if at >= 0 and text[at + len(_RC_MARKER) :].strip().isdigit():
        exit_code = int(text[at + len(_RC_MARKER) :].strip())
        text = text[:at].rstrip("\n")
    if exit_code is None:
        return ProbeResult(
            id=probe.id,
            success=False,
            output_tail=tail(text),
            error=f"command did not finish within {probe.timeout_seconds}s" if ok is False else "no exit code",
        )
    return ProbeResult(id=probe.id, success=True, exit_code=exit_code, output_tail=tail(text))


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def host_result(
    name: str,
    host: Host,
    state: State,
    request: RunRequest,
    connect_error: str | None,
    op_errors: dict[tuple[str, int], str],
    probes: list[ProbeResult],
    duration: float,
    timed_out: bool,
) -> HostResult:
    connected = host in state.activated_hosts
    if not connected:
        reason = connect_error or "could not connect"
        if timed_out:
            reason = f"timed out after {request.timeout_seconds}s while connecting"
        return HostResult(name=name, connected=False, outcome="failed", error=reason)

    ops: list[OperationResult] = []
    error: str | None = None
    for index, op in enumerate(request.operations):
        op_hash = host.op_hash_order[index] if index < len(host.op_hash_order) else None
        meta = state.ops.get(host, {}).get(op_hash) if op_hash else None
        operation_meta = meta.operation_meta if meta else None
        if operation_meta is None or not operation_meta.is_complete():
            message = op_errors.get((host.name, index)) or (
                f"timed out after {request.timeout_seconds}s" if timed_out else "not run: an earlier operation failed"
            )
            ops.append(OperationResult(id=op.id, success=False, changed=False, error=message))
            error = error or f"{op.id}: {message}"
            continue
        success = operation_meta.did_succeed()
        stdout = "\n".join(operation_meta.stdout_lines)
        stderr = "\n".join(operation_meta.stderr_lines)
        ops.append(
            OperationResult(
                id=op.id,
                success=success,
                changed=operation_meta.did_change(),
                stdout_tail=tail(stdout),
                stderr_tail=tail(stderr),
                error=None if success else (tail(stderr or stdout, 1000) or "operation failed"),
            )
        )
        if not success and error is None:
            error = f"{op.id}: {tail(stderr or stdout, 1000) or 'operation failed'}"

    if error is None and timed_out and len(probes) < len(request.probes):
        error = f"timed out after {request.timeout_seconds}s while checking"
    changed = any(op.changed for op in ops)
    outcome: HostOutcome = "failed" if error else ("changed" if changed else "ok")
    return HostResult(
        name=name,
        connected=True,
        outcome=outcome,
        error=error,
        operations=ops,
        probes=probes,
        duration_seconds=round(duration, 3),
    )
