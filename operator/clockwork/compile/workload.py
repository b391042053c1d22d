"""Workload -> systemd units (and a timer) plus a wrapper that records every run. Pure.

The wrapper keeps the run history on the node (start, end, exit code; the last
100 runs) and, for runMode nTimes, counts runs and ends the unit cleanly after
maxRuns (exit 77, which the unit treats as success and does not restart on).
"""

from __future__ import annotations

import json
import shlex

from pydantic import JsonValue

from clockwork import text
from clockwork.api import cron
from clockwork.api.workload import ResolvedWorkload
from clockwork.claims import ClaimTarget
from clockwork.plan import Operation

STATE_DIR = "/var/lib/clockwork/workloads"
UNIT_DIR = "/etc/systemd/system"
LIB_DIR = "/usr/local/lib/clockwork/workloads"
DONE_CODE = 77
HISTORY_LINES = 100


def unit_name(name: str) -> str:
    return f"clockwork-{name}"


def history_path(name: str) -> str:
    return f"{STATE_DIR}/{name}/history"


def wrapper_path(name: str) -> str:
    return f"{LIB_DIR}/{name}/run.sh"


def program(w: ResolvedWorkload) -> str:
    """The shell command of one run."""
    if w.command:
        return w.command
    call = (
        f"import importlib,json,sys; m=importlib.import_module({w.module!r}); "
        f"getattr(m,{w.entry_point!r})(**json.loads(sys.argv[1]))"
    )
    return f"python3 -c {shlex.quote(call)} {shlex.quote(json.dumps(w.params, sort_keys=True))}"


def wrapper(w: ResolvedWorkload, name: str) -> str:
    state = f"{STATE_DIR}/{name}"
    lines = [
        "#!/bin/sh",
        "# Written by Clockwork: runs the workload once and records the run.",
        f"state={shlex.quote(state)}",
        'mkdir -p "$state"',
    ]
    if w.run_mode == "nTimes":
        lines += [
            'runs=$(cat "$state/runs" 2>/dev/null || echo 0)',
            f'if [ "$runs" -ge {w.max_runs} ]; then exit {DONE_CODE}; fi',
            'echo $((runs + 1)) > "$state/runs"',
        ]
    lines += [
        "start=$(date +%s)",
        f"/bin/sh -c {shlex.quote(program(w))}",
        "code=$?",
        'echo "$start $(date +%s) $code" >> "$state/history"',
        f'tail -n {HISTORY_LINES} "$state/history" > "$state/history.tmp" && mv "$state/history.tmp" "$state/history"',
        'exit "$code"',
    ]
    return "\n".join(lines) + "\n"


def service_unit(w: ResolvedWorkload, name: str) -> str:
    service = [
        "[Unit]",
        f"Description={text.systemd_text(f'Clockwork workload {name} ({w.type}, {w.run_mode})')}",
        "After=network-online.target",
        "Wants=network-online.target",
    ]
    if w.run_mode == "nTimes":
        service += ["StartLimitIntervalSec=0"]
    service += ["", "[Service]"]
    if w.run_mode == "schedule":
        service += ["Type=oneshot"]
    else:
        service += ["Type=simple", "Restart=always", f"RestartSec={w.restart_delay_seconds}"]
    if w.run_mode == "nTimes":
        service += [f"RestartPreventExitStatus={DONE_CODE}", f"SuccessExitStatus={DONE_CODE}"]
    # systemd makes the state folder, owned by User= when one is set.
    service += [f"ExecStart={wrapper_path(name)}", f"StateDirectory=clockwork/workloads/{name}"]
    if w.timeout_seconds:
        key = "TimeoutStartSec" if w.run_mode == "schedule" else "RuntimeMaxSec"
        service += [f"{key}={w.timeout_seconds}"]
    if w.memory_limit_mb:
        service += [f"MemoryMax={w.memory_limit_mb}M"]
    if w.cpu_nice is not None:
        service += [f"Nice={w.cpu_nice}"]
    if w.user:
        service += [f"User={w.user}"]
    if w.working_directory:
        service += [f"WorkingDirectory={text.systemd_text(w.working_directory)}"]
    for key, value in sorted(w.env.items()):
        service += [f"Environment={text.systemd_quoted(f'{key}={value}')}"]
    if w.run_mode != "schedule":
        service += ["", "[Install]", "WantedBy=multi-user.target"]
    return "\n".join(service) + "\n"


def timer_unit(w: ResolvedWorkload, name: str) -> str:
    assert w.schedule is not None
    described = text.systemd_text(f"Schedule of Clockwork workload {name} ({w.schedule})")
    lines = ["[Unit]", f"Description={described}", "", "[Timer]"]
    calendar = cron.on_calendar(w.schedule)
    if calendar:
        lines += [f"OnCalendar={c}" for c in calendar] + ["Persistent=true"]
    else:  # @reboot
        lines += ["OnBootSec=0"]
    lines += [f"Unit={unit_name(name)}.service", "", "[Install]", "WantedBy=timers.target"]
    return "\n".join(lines) + "\n"


def apply(w: ResolvedWorkload) -> list[Operation]:
    name = w.name
    unit = unit_name(name)
    if not w.present:
        return _remove(name)
    ops = [
        Operation(
            id="workload.wrapper",
            op="clockwork.put",
            args={"dest": wrapper_path(name), "content": wrapper(w, name), "mode": "0755", "create_remote_dir": True},
            description=f"run wrapper of {name}",
        ),
    ]
    service_args: dict[str, JsonValue] = {"unit": f"{unit}.service", "content": service_unit(w, name)}
    if w.run_mode == "schedule":
        service_args.update(running=False, enabled=False, start=False)
        ops.append(
            Operation(
                id="workload.service", op="clockwork.systemd_unit", args=service_args, description=f"{unit}.service"
            )
        )
        ops.append(
            Operation(
                id="workload.timer",
                op="clockwork.systemd_unit",
                args={"unit": f"{unit}.timer", "content": timer_unit(w, name)},
                description=f"{unit}.timer ({w.schedule})",
            )
        )
    else:
        ops.append(
            Operation(
                id="workload.service",
                op="clockwork.systemd_unit",
                args=service_args,
                description=f"{unit}.service ({w.run_mode})",
            )
        )
    return ops


def destroy(w: ResolvedWorkload) -> list[Operation]:
    return _remove(w.name) if w.present else []


def claims(w: ResolvedWorkload) -> list[ClaimTarget]:
    """The files Clockwork names itself: a unit someone else left there is kept and put back."""
    if not w.present:
        return []
    unit = unit_name(w.name)
    found = [f"{wrapper_path(w.name)}", f"{UNIT_DIR}/{unit}.service"]
    if w.run_mode == "schedule":
        found.append(f"{UNIT_DIR}/{unit}.timer")
    return [ClaimTarget(type="file", key=path) for path in found]


def _remove(name: str) -> list[Operation]:
    unit = unit_name(name)
    ops = [
        Operation(
            id=f"workload.{suffix}.absent",
            op="clockwork.systemd_unit_absent",
            args={"unit": f"{unit}.{suffix}"},
            description=f"remove {unit}.{suffix}",
        )
        for suffix in ("timer", "service")
    ]
    ops += [
        Operation(
            id="workload.files.absent",
            op="files.directory",
            args={"path": f"{LIB_DIR}/{name}", "present": False},
            description=f"remove the wrapper of {name}",
        ),
        Operation(
            id="workload.state.absent",
            op="files.directory",
            args={"path": f"{STATE_DIR}/{name}", "present": False},
            description=f"remove the run history of {name}",
        ),
    ]
    return ops
