"""The PyInfra worker process: a JSON RunRequest on stdin, a JSON RunResult on stdout.

PyInfra is gevent-based and monkey-patches the standard library, so it never runs
inside the operator's asyncio loop: the runner starts this module as a separate
process (``python -m clockwork.runners.worker``), and a Kubernetes Job runs the same
entry point inside a pod. Everything here is about translating our plan into the
PyInfra API and the PyInfra outcome back into our result model.
"""

from __future__ import annotations

# gevent must patch before anything imports socket/ssl/threading.
from gevent import monkey

monkey.patch_all()

import contextlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from pydantic import JsonValue, ValidationError  # noqa: E402
from pyinfra.api.config import Config  # noqa: E402
from pyinfra.api.connect import connect_all, disconnect_all  # noqa: E402
from pyinfra.api.exceptions import PyinfraError  # noqa: E402
from pyinfra.api.host import Host  # noqa: E402
from pyinfra.api.inventory import Inventory  # noqa: E402
from pyinfra.api.operation import add_op  # noqa: E402
from pyinfra.api.operations import run_host_op  # noqa: E402
from pyinfra.api.state import BaseStateCallback, State  # noqa: E402
from pyinfra.context import ctx_host, ctx_state  # noqa: E402
from pyinfra.facts import files as file_facts  # noqa: E402
from pyinfra.operations import apk, apt, dnf, docker, files, git, server  # noqa: E402

from clockwork import plan  # noqa: E402
from clockwork.plan import (  # noqa: E402
    CommandProbe,
    FactProbe,
    HostOutcome,
    HostResult,
    HostSpec,
    OperationResult,
    Probe,
    ProbeResult,
    RunRequest,
    RunResult,
    result_line,
    tail,
)
from clockwork.runners import claim_ops  # noqa: E402
from clockwork.runners import ops as clockwork_ops  # noqa: E402

OPERATIONS: dict[str, Callable[..., Any]] = {
    "files.file": files.file,
    "files.directory": files.directory,
    "server.shell": server.shell,
    "server.user": server.user,
    "server.packages": server.packages,
    "apt.packages": apt.packages,
    "dnf.packages": dnf.packages,
    "apk.packages": apk.packages,
    "git.repo": git.repo,
    "docker.container": docker.container,
    "docker.network": docker.network,
    **clockwork_ops.OPERATIONS,
    **claim_ops.OPERATIONS,
}

FACTS: dict[str, Any] = {
    "files.File": file_facts.File,
    "files.Directory": file_facts.Directory,
    "files.Sha256File": file_facts.Sha256File,
    "clockwork.Claims": claim_ops.Claims,
}

_RC_MARKER = "__clockwork_rc="

log = logging.getLogger("clockwork.worker")


class _TimedOut(Exception):
    pass


class _Recorder(BaseStateCallback):
    """Keeps what PyInfra only logs: why a host could not be reached."""

    def __init__(self) -> None:
        self.connect_errors: dict[str, str] = {}

    def host_connect_error(self, state: State, host: Host, error: Any) -> None:  # type: ignore[override]
        self.connect_errors[host.name] = str(error) or type(error).__name__


class _Secrets:
    """A private folder for keys and known_hosts files, removed whatever happens."""

    def __init__(self) -> None:
        # The runner makes the folder and removes it even if this process is killed.
        given = os.environ.get("CW_WORKER_SECRETS_DIR")
        self.path = given if given and os.path.isdir(given) else tempfile.mkdtemp(prefix="clockwork-worker-")
        self.known_hosts: dict[str, str] = {}
        self.keys: list[str] = []

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.path, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        return path

    def forget_keys(self) -> None:
        """Keys are read when connecting; after that they need not be on disk."""
        for key in self.keys:
            with contextlib.suppress(OSError):
                os.unlink(key)

    def remove(self) -> None:
        self.forget_keys()
        if os.environ.get("CW_WORKER_SECRETS_DIR") != self.path:
            shutil.rmtree(self.path, ignore_errors=True)


def _inventory_entry(spec: HostSpec, index: int, secrets: _Secrets) -> tuple[str, dict[str, Any]]:
    common = {"clockwork_name": spec.name, "clockwork_state_dir": spec.state_dir}
    if spec.connector == "local":
        return ("@local", common)
    if spec.connector == "docker":
        if not spec.container:
            raise ValueError(f"host {spec.name}: the docker connector needs a container")
        return (f"@docker/{spec.container}", common)
    if not spec.address:
        raise ValueError(f"host {spec.name}: the ssh connector needs an address")
    data: dict[str, Any] = {
        **common,
        "ssh_hostname": spec.address,
        "ssh_port": spec.port,
        "ssh_user": spec.user,
        # Only what the plan says: no ~/.ssh/config, no agent, no keys lying around.
        "ssh_config_file": os.devnull,
        "ssh_look_for_keys": False,
        "ssh_allow_agent": False,
        "ssh_strict_host_key_checking": "yes" if spec.host_key_policy == "strict" else "accept-new",
    }
    if spec.private_key is not None:
        data["ssh_key"] = secrets.write(f"key-{index}", spec.private_key.get_secret_value().rstrip() + "\n")
        secrets.keys.append(data["ssh_key"])
    elif spec.key_file:
        data["ssh_key"] = spec.key_file
    lines = plan.known_hosts_lines(spec)
    known = secrets.write(f"known_hosts-{index}", "".join(line + "\n" for line in lines))
    secrets.known_hosts[spec.name] = known
    data["ssh_known_hosts_file"] = known
    return (spec.name, data)


def _docker_problem(spec: HostSpec) -> str | None:
    """Why a docker host cannot be used; PyInfra would build an image from a missing container."""
    if spec.connector != "docker" or not spec.container:
        return None
    try:
        found = subprocess.run(["docker", "container", "inspect", "-f", "{{.State.Running}}", spec.container],
                               capture_output=True, text=True, timeout=30)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker is not usable here: {exc}"
    if found.returncode != 0:
        return f"container {spec.container} does not exist"
    if found.stdout.strip() != "true":
        return f"container {spec.container} is not running"
    return None


def _learned(spec: HostSpec, secrets: _Secrets) -> list[str]:
    path = secrets.known_hosts.get(spec.name)
    if path is None or spec.host_key_policy != "accept-new":
        return []
    try:
        with open(path) as handle:
            now = [line.strip() for line in handle if line.strip()]
    except OSError:
        return []
    before = set(plan.known_hosts_lines(spec))
    return [line for line in now if line not in before]


def _json_safe(value: Any) -> JsonValue:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _run_probe(host: Host, probe: Probe) -> ProbeResult:
    try:
        if isinstance(probe, FactProbe):
            args = dict(probe.args)
            if probe.fact == "clockwork.Claims":
                args["state_dir"] = host.data.get("clockwork_state_dir")
            value = host.get_fact(FACTS[probe.fact], **args)
            return ProbeResult(id=probe.id, success=True, value=_json_safe(value))
        return _run_command_probe(host, probe)
    except Exception as exc:  # a probe failing is a result, not a crash
        return ProbeResult(id=probe.id, success=False, error=f"{type(exc).__name__}: {exc}")


def _run_command_probe(host: Host, probe: CommandProbe) -> ProbeResult:
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


def execute(request: RunRequest) -> RunResult:
    secrets = _Secrets()
    try:
        return _execute(request, secrets)
    finally:
        secrets.remove()


def _execute(request: RunRequest, secrets: _Secrets) -> RunResult:
    started = time.monotonic()
    names = {}
    entries = []
    unreachable: list[HostResult] = []
    for index, spec in enumerate(request.hosts):
        problem = _docker_problem(spec)
        if problem:
            unreachable.append(HostResult(name=spec.name, connected=False, outcome="failed", error=problem))
            continue
        try:
            entry = _inventory_entry(spec, index, secrets)
        except ValueError as exc:
            return RunResult.failed(request.hosts, str(exc))
        entries.append(entry)
        names[entry[0]] = spec.name
    specs = {spec.name: spec for spec in request.hosts}
    if not entries:
        return RunResult(hosts=unreachable, duration_seconds=round(time.monotonic() - started, 3))

    config = Config(
        CONNECT_TIMEOUT=request.connect_timeout_seconds,
        FAIL_PERCENT=None,
        PARALLEL=max(1, min(len(entries), request.parallel)),
    )
    inventory = Inventory((entries, {}))
    # check_for_changes=False: facts are read when each host runs, in parallel,
    # instead of serially while the operations are added.
    state = State(inventory, config, check_for_changes=False)
    recorder = _Recorder()
    state.add_callback_handler(recorder)

    op_errors: dict[tuple[str, int], str] = {}
    probe_results: dict[str, list[ProbeResult]] = {}
    host_durations: dict[str, float] = {}
    timed_out = False

    try:
        with gevent.Timeout(request.timeout_seconds, _TimedOut):
            # PyinfraError when no host connected: reported per host below.
            with contextlib.suppress(PyinfraError):
                connect_all(state)
            secrets.forget_keys()
            active = list(state.inventory.get_active_hosts())
            for op in request.operations:
                try:
                    add_op(state, OPERATIONS[op.op], host=active, **op.args)
                except Exception as exc:
                    return RunResult.failed(
                        request.hosts,
                        f"operation {op.id} ({op.op}) is invalid: {type(exc).__name__}: {exc}",
                        time.monotonic() - started,
                    )

            def run_host(host: Host) -> None:
                host_started = time.monotonic()
                try:
                    with ctx_host.use(host):
                        for index, op_hash in enumerate(host.op_hash_order):
                            try:
                                ok = run_host_op(state, host, op_hash)
                            except claim_ops.Refused as exc:
                                op_errors[(host.name, index)] = str(exc)  # already says field, thing and what to do
                                return
                            except Exception as exc:
                                op_errors[(host.name, index)] = f"{type(exc).__name__}: {exc}"
                                return
                            if not ok:
                                return
                    probe_results[host.name] = [_run_probe(host, p) for p in request.probes]
                finally:
                    host_durations[host.name] = time.monotonic() - host_started

            state.is_executing = True
            with ctx_state.use(state):
                gevent.joinall([gevent.spawn(run_host, host) for host in active])
    except _TimedOut:
        timed_out = True

    try:
        disconnect_all(state)
    except Exception:  # a broken connection must not hide the results
        log.debug("disconnect failed", exc_info=True)

    results = []
    for host in inventory:
        name = names.get(host.name, host.name)
        result = _host_result(
            name,
            host,
            state,
            request,
            recorder.connect_errors.get(host.name),
            op_errors,
            probe_results.get(host.name, []),
            host_durations.get(host.name, 0.0),
            timed_out,
        )
        if name in specs:
            result.learned_host_keys = _learned(specs[name], secrets)
        results.append(result)
    return RunResult(
        hosts=results + unreachable,
        duration_seconds=round(time.monotonic() - started, 3),
        error=f"run timed out after {request.timeout_seconds}s" if timed_out else None,
    )


def _host_result(
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


def main(argv: list[str] | None = None) -> int:
    """Read the request from stdin (runner) or ``--request FILE`` (a Job's mounted plan).

    The runner starts workers ahead of time (``--secrets-dir-on-stdin``): such a worker
    has imported everything and waits; its first line of input names the private
    folder for key files, the rest is the request. The end of input before any
    request means it is not needed: it exits quietly.
    """
    args = sys.argv[1:] if argv is None else argv
    from_file = args[1] if len(args) == 2 and args[0] == "--request" else None
    if args == ["--secrets-dir-on-stdin"]:
        folder = sys.stdin.readline().strip()
        if not folder:
            return 0
        os.environ["CW_WORKER_SECRETS_DIR"] = folder
    # The result goes to the original stdout; anything PyInfra or a library prints
    # goes to stderr so that it can never corrupt the JSON.
    result_stream = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    if from_file is not None:
        with open(from_file) as handle:
            raw = handle.read()
    else:
        raw = sys.stdin.read()
    try:
        request = RunRequest.model_validate_json(raw)
    except ValidationError as exc:
        result_stream.write(RunResult(error=f"invalid run request: {exc}").model_dump_json())
        result_stream.close()
        return 2
    try:
        result = execute(request)
    except Exception as exc:
        traceback.print_exc()
        result = RunResult.failed(request.hosts, f"worker error: {type(exc).__name__}: {exc}")
    # In a Job, stdout and stderr share one log: the marker finds the result in it.
    result_stream.write(result_line(result) if from_file else result.model_dump_json())
    result_stream.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
