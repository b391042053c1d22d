"""Every assertion type as probes (what the runner reads on the node) and a judge.

Probes are facts or small POSIX shell commands that work on minimal systems
(busybox, Debian minbase): each command prefers what is there (curl, then
python3, then wget; bash /dev/tcp, then python3, then nc). A probe's id is a hash
of what it reads, so that two assertions needing the same fact read it once. The
judges are pure and say what is wrong in words a person can act on.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clockwork.api import assertions as a
from clockwork.api.assertions import Assertion
from clockwork.api.types import normalise_mode
from clockwork.plan import CommandProbe, FactProbe, HostResult, Probe, ProbeResult

NONE_MARKER = "__cw_none"
STATUS_MARKER = "__cw_status"
PROCESS_MARKER = "__cwproc__"
BODY_LIMIT = 3000


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


def _q(value: object) -> str:
    return shlex.quote(str(value))


# --- commands ------------------------------------------------------------------------------

_HTTP_PY = (
    "import sys,time,urllib.request,urllib.error\n"
    "u,t,b=sys.argv[1],float(sys.argv[2]),sys.argv[3]\n"
    "s=time.time()\n"
    "try:\n r=urllib.request.urlopen(u,timeout=t);c=r.status;d=r.read()\n"
    "except urllib.error.HTTPError as e:\n c=e.code;d=e.read()\n"
    "except Exception as e:\n print('000 0',str(e).replace(chr(10),' '));sys.exit(0)\n"
    "open(b,'wb').write(d);print(c,round(time.time()-s,3))\n"
)


def http_command(url: str, timeout: int) -> str:
    return (
        f"u={_q(url)}; t={timeout}; b=$(mktemp)\n"
        "if command -v curl >/dev/null 2>&1; then\n"
        '  s=$(curl -sS -o "$b" -m "$t" -w \'%{http_code} %{time_total}\' "$u" 2>/dev/null) || s="000 0 unreachable"\n'
        "elif command -v python3 >/dev/null 2>&1; then\n"
        f'  s=$(python3 -c {_q(_HTTP_PY)} "$u" "$t" "$b")\n'
        "elif command -v wget >/dev/null 2>&1; then\n"
        '  if wget -q -T "$t" -O "$b" "$u" 2>/dev/null; then s="200 0"; else s="000 0 wget failed"; fi\n'
        f'else echo "{NONE_MARKER} no HTTP client (curl, python3 or wget) on the node"; exit 0; fi\n'
        f'echo "{STATUS_MARKER} $s"; head -c {BODY_LIMIT} "$b"; rm -f "$b"'
    )


def port_command(host: str, port: int, protocol: str) -> str:
    if protocol == "udp":
        return (
            f"if command -v nc >/dev/null 2>&1; then nc -z -u -w 3 {_q(host)} {port} && echo open || echo closed; "
            f'else echo "{NONE_MARKER} no nc on the node to check a UDP port"; fi'
        )
    py = f"import socket;socket.create_connection(({host!r},{port}),3)"
    return (
        f"if command -v bash >/dev/null 2>&1; then bash -c {_q(f'exec 3<>/dev/tcp/{host}/{port}')} 2>/dev/null "
        "&& echo open || echo closed; "
        f"elif command -v python3 >/dev/null 2>&1; then python3 -c {_q(py)} 2>/dev/null && echo open || echo closed; "
        f"elif command -v nc >/dev/null 2>&1; then nc -z -w 3 {_q(host)} {port} && echo open || echo closed; "
        f'else echo "{NONE_MARKER} no bash, python3 or nc on the node"; fi'
    )


def process_command(pattern: str) -> str:
    # Every process of this pipeline carries the marker, and lines with it are dropped.
    return (
        "for f in /proc/[0-9]*/cmdline; do tr '\\000' ' ' < \"$f\" 2>/dev/null; echo; done | "
        f"sed -e 's/ $//' -e '/{PROCESS_MARKER}_never/d' | grep -v {PROCESS_MARKER} | "
        f"grep -E -c -e {_q(pattern)} -e {PROCESS_MARKER}_never"
    )


MEMORY_COMMAND = "awk '/^MemTotal:/{t=$2}/^MemAvailable:/{v=$2}END{printf \"%.1f\\n\",(t-v)*100/t}' /proc/meminfo"
CPU_COMMAND = (
    "a=$(head -n1 /proc/stat); sleep 1; b=$(head -n1 /proc/stat); "
    'echo "$a $b" | awk \'{i1=$5+$6;t1=0;for(k=2;k<=11;k++)t1+=$k;'
    'i2=$16+$17;t2=0;for(k=13;k<=22;k++)t2+=$k;printf "%.1f\\n",(1-(i2-i1)/(t2-t1))*100}\''
)


def disk_command(path: str) -> str:
    return f'df -P {_q(path)} | awk \'NR==2 {{sub("%","",$5); print $5}}\''


def container_command(runtime: str, template: str, container: str) -> str:
    return f"{runtime} inspect -f {_q(template)} {_q(container)} 2>&1"


def log_command(check: a.LogContainsAssertion) -> str:
    lines = check.lines or 200
    if check.container:
        source = f"{check.runtime or 'docker'} logs --tail {lines} {_q(check.container)} 2>&1"
    elif check.unit:
        source = f"journalctl -u {_q(check.unit)} -n {lines} --no-pager -o cat 2>&1"
    else:
        source = f"tail -n {lines} {_q(check.path)} 2>&1"
    return f"{source} | grep -E -c -e {_q(check.pattern)}"


# --- probes per assertion --------------------------------------------------------------------


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


def _probe(host: HostResult, probe: Probe) -> ProbeResult | None:
    return host.probe(probe.id)


def _command_output(host: HostResult, probe: Probe) -> tuple[str | None, str | None]:
    """(output, problem): the command's output, or why there is none."""
    found = _probe(host, probe)
    if found is None:
        return None, "not checked"
    if not found.success:
        return None, found.error or "the check could not run"
    output = found.output_tail.strip()
    if output.startswith(NONE_MARKER):
        return None, output[len(NONE_MARKER) :].strip()
    return output, None


def _number(text: str) -> float | None:
    try:
        return float(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


# http


def _http_probes(check: a.HttpAssertion) -> list[Probe]:
    return [command_probe(http_command(check.url, check.timeout_seconds or 10), (check.timeout_seconds or 10) + 10)]


def _http_judge(check: a.HttpAssertion, host: HostResult) -> Verdict:
    output, problem = _command_output(host, _http_probes(check)[0])
    if output is None:
        return Verdict(False, f"GET {check.url}: {problem}")
    head, _, body = output.partition("\n")
    fields = head.removeprefix(STATUS_MARKER).split()
    code = int(fields[0]) if fields and fields[0].isdigit() else 0
    seconds = _number(fields[1]) if len(fields) > 1 else None
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
    output, problem = _command_output(host, _port_probes(check)[0])
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
    output, problem = _command_output(host, _running_probes(check)[0])
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
    output, problem = _command_output(host, _healthy_probes(check)[0])
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
    output, problem = _command_output(host, _log_probes(check)[0])
    source = f"container {check.container}" if check.container else (f"unit {check.unit}" if check.unit else check.path)
    if output is None:
        return Verdict(False, f"log of {source}: {problem}")
    count = _number(output) or 0
    lines = check.lines or 200
    if count > 0:
        return Verdict(True, f"{int(count)} of the last {lines} lines of {source} match /{check.pattern}/")
    return Verdict(False, f"none of the last {lines} lines of {source} match /{check.pattern}/")


# files


def _stat_fact(kind: str | None) -> str:
    return "files.Directory" if kind == "directory" else "files.File"


def _stat(host: HostResult, path: str, kind: str | None = None) -> tuple[Any, str | None]:
    found = _probe(host, fact_probe(_stat_fact(kind), path=path))
    if found is None or not found.success:
        return None, f"could not read {path}: {found.error if found else 'not checked'}"
    return found.value, None


def _exists_probes(check: a.FileExistsAssertion) -> list[Probe]:
    return [fact_probe(_stat_fact(check.kind), path=check.path)]


def _exists_judge(check: a.FileExistsAssertion, host: HostResult) -> Verdict:
    stat, problem = _stat(host, check.path, check.kind)
    if problem:
        return Verdict(False, problem)
    if check.present is False:
        return Verdict(
            stat is None, f"{check.path} is absent" if stat is None else f"{check.path} exists but should be absent"
        )
    if stat is None:
        return Verdict(False, f"{check.path} does not exist")
    if not isinstance(stat, dict):
        wanted = "a directory" if check.kind == "directory" else "a regular file"
        return Verdict(False, f"{check.path} exists but is not {wanted}")
    return Verdict(True, f"{check.path} exists")


def _ids_probe(path: str) -> CommandProbe:
    # The File fact names the owner; a spec may give the number (chown takes either).
    return command_probe(f"stat -c '%u %g' -- {_q(path)}")


def _numeric(value: str | None) -> bool:
    return value is not None and value.isdigit()


def _permissions_probes(check: a.FilePermissionsAssertion) -> list[Probe]:
    probes: list[Probe] = [fact_probe(_stat_fact(check.kind), path=check.path)]
    if _numeric(check.owner) or _numeric(check.group):
        probes.append(_ids_probe(check.path))
    return probes


def _permissions_judge(check: a.FilePermissionsAssertion, host: HostResult) -> Verdict:
    stat, problem = _stat(host, check.path, check.kind)
    if problem:
        return Verdict(False, problem)
    if not isinstance(stat, dict):
        return Verdict(False, f"{check.path} does not exist")
    wrong, seen = [], []
    have_mode = normalise_mode(str(stat.get("mode", "")))
    user, group = str(stat.get("user")), str(stat.get("group"))
    if _numeric(check.owner) or _numeric(check.group):
        output, problem = _command_output(host, _ids_probe(check.path))
        if output is None:
            return Verdict(False, f"could not read the owner of {check.path} by number: {problem}")
        uid, _, gid = output.strip().partition(" ")
        user, group = (uid if _numeric(check.owner) else user), (gid if _numeric(check.group) else group)
    for label, want, have in (
        ("mode", normalise_mode(check.mode) if check.mode else None, have_mode),
        ("owner", check.owner, user),
        ("group", check.group, group),
    ):
        if want is None:
            continue
        seen.append(f"{label} is {have}")
        if have != want:
            wrong.append(f"{label} is {have}, want {want}")
    if wrong:
        return Verdict(False, f"{check.path}: " + "; ".join(wrong))
    return Verdict(True, f"{check.path}: " + ("; ".join(seen) or f"mode is {have_mode}"))


def _size_probes(check: a.FileSizeAssertion) -> list[Probe]:
    return [fact_probe("files.File", path=check.path)]


def _size_judge(check: a.FileSizeAssertion, host: HostResult) -> Verdict:
    stat, problem = _stat(host, check.path)
    if problem:
        return Verdict(False, problem)
    if not isinstance(stat, dict):
        return Verdict(False, f"{check.path} does not exist")
    size = int(stat.get("size") or 0)
    if check.min_bytes is not None and size < check.min_bytes:
        return Verdict(False, f"{check.path} is {size} bytes, less than {check.min_bytes}")
    if check.max_bytes is not None and size > check.max_bytes:
        return Verdict(False, f"{check.path} is {size} bytes, more than {check.max_bytes}")
    return Verdict(True, f"{check.path} is {size} bytes")


def _content_probes(check: a.FileContentAssertion) -> list[Probe]:
    if check.sha256:
        return [fact_probe("files.Sha256File", path=check.path)]
    return [command_probe(f"grep -E -q -e {_q(check.matches)} {_q(check.path)}; echo $?")]


def _content_judge(check: a.FileContentAssertion, host: HostResult) -> Verdict:
    probe = _content_probes(check)[0]
    if check.sha256:
        found = _probe(host, probe)
        have = found.value if found is not None and found.success else None
        if have == check.sha256:
            return Verdict(True, f"content matches (sha256 {check.sha256[:12]})")
        shown = str(have)[:12] if have else "unreadable"
        return Verdict(False, f"content differs: sha256 {shown}…, want {check.sha256[:12]}…")
    output, problem = _command_output(host, probe)
    if output is None:
        return Verdict(False, f"{check.path}: {problem}")
    code = output.splitlines()[-1]
    if code == "0":
        return Verdict(True, f"{check.path} matches /{check.matches}/")
    if code == "1":
        return Verdict(False, f"{check.path} does not match /{check.matches}/")
    return Verdict(False, f"{check.path} cannot be read")


# processes and resources


def _process_probes(check: a.ProcessRunningAssertion | a.ProcessNotRunningAssertion) -> list[Probe]:
    return [command_probe(process_command(check.pattern))]


def _process_judge(check: a.ProcessRunningAssertion | a.ProcessNotRunningAssertion, host: HostResult) -> Verdict:
    output, problem = _command_output(host, _process_probes(check)[0])
    if output is None:
        return Verdict(False, f"processes /{check.pattern}/: {problem}")
    count = int(_number(output) or 0)
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
    output, problem = _command_output(host, probe)
    value = _number(output) if output is not None else None
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
    found = _probe(host, _command_probes(check)[0])
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


_CHECKS: dict[type, tuple[Callable[[Any], list[Probe]], Callable[[Any, HostResult], Verdict]]] = {
    a.HttpAssertion: (_http_probes, _http_judge),
    a.PortAssertion: (_port_probes, _port_judge),
    a.ContainerRunningAssertion: (_running_probes, _running_judge),
    a.ContainerHealthyAssertion: (_healthy_probes, _healthy_judge),
    a.LogContainsAssertion: (_log_probes, _log_judge),
    a.FileExistsAssertion: (_exists_probes, _exists_judge),
    a.FilePermissionsAssertion: (_permissions_probes, _permissions_judge),
    a.FileSizeAssertion: (_size_probes, _size_judge),
    a.FileContentAssertion: (_content_probes, _content_judge),
    a.ProcessRunningAssertion: (_process_probes, _process_judge),
    a.ProcessNotRunningAssertion: (_process_probes, _process_judge),
    a.MemoryUsageAssertion: (_memory_probes, _memory_judge),
    a.CpuUsageAssertion: (_cpu_probes, _cpu_judge),
    a.DiskUsageAssertion: (_disk_probes, _disk_judge),
    a.CommandAssertion: (_command_probes, _command_judge),
}
