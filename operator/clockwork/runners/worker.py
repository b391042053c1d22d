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
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from pydantic import ValidationError  # noqa: E402
from pyinfra.api.config import Config  # noqa: E402
from pyinfra.api.connect import connect_all, disconnect_all  # noqa: E402
from pyinfra.api.exceptions import PyinfraError  # noqa: E402
from pyinfra.api.host import Host  # noqa: E402
from pyinfra.api.inventory import Inventory  # noqa: E402
from pyinfra.api.operation import add_op  # noqa: E402
from pyinfra.api.operations import run_host_op  # noqa: E402
from pyinfra.api.state import State  # noqa: E402
from pyinfra.context import ctx_host, ctx_state  # noqa: E402
from pyinfra.facts import files as file_facts  # noqa: E402
from pyinfra.operations import apk, apt, dnf, docker, files, git, server  # noqa: E402

from clockwork.plan import (  # noqa: E402
    FactProbe,
    HostResult,
    Probe,
    ProbeResult,
    RunRequest,
    RunResult,
    result_line,
)
from clockwork.runners import claim_ops  # noqa: E402
from clockwork.runners import ops as clockwork_ops  # noqa: E402
from clockwork.runners.worker_hosts import Recorder, Secrets, docker_problem, inventory_entry, learned  # noqa: E402
from clockwork.runners.worker_results import host_result, json_safe, run_command_probe  # noqa: E402

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


log = logging.getLogger("clockwork.worker")


class _TimedOut(Exception):
    pass


def _run_probe(host: Host, probe: Probe) -> ProbeResult:
    try:
        if isinstance(probe, FactProbe):
            args = dict(probe.args)
            if probe.fact == "clockwork.Claims":
                args["state_dir"] = host.data.get("clockwork_state_dir")
            value = host.get_fact(FACTS[probe.fact], **args)
            return ProbeResult(id=probe.id, success=True, value=json_safe(value))
        return run_command_probe(host, probe)
    except Exception as exc:  # a probe failing is a result, not a crash
        return ProbeResult(id=probe.id, success=False, error=f"{type(exc).__name__}: {exc}")


def execute(request: RunRequest) -> RunResult:
    secrets = Secrets()
    try:
        return _execute(request, secrets)
    finally:
        secrets.remove()


def _execute(request: RunRequest, secrets: Secrets) -> RunResult:
    started = time.monotonic()
    names = {}
    entries = []
    unreachable: list[HostResult] = []
    for index, spec in enumerate(request.hosts):
        problem = docker_problem(spec)
        if problem:
            unreachable.append(HostResult(name=spec.name, connected=False, outcome="failed", error=problem))
            continue
        try:
            entry = inventory_entry(spec, index, secrets)
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
    recorder = Recorder()
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
        result = host_result(
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
            result.learned_host_keys = learned(specs[name], secrets)
        results.append(result)
    return RunResult(
        hosts=results + unreachable,
        duration_seconds=round(time.monotonic() - started, 3),
        error=f"run timed out after {request.timeout_seconds}s" if timed_out else None,
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
