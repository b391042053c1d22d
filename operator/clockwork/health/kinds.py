"""Each catalogue kind's own health, as assertions; and a Workload's run history.

Directory: exists with its mode and owner. User: the account exists (home and
shell as declared). Package: installed (or absent). Container: running, its
ports open, and its HTTP check. GitRepo: checked out at the right revision.
Workload: its unit (or timer) is active, or it finished its runs.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime

from clockwork.api import assertions as a
from clockwork.api.assertions import Assertion
from clockwork.api.common import RunRecord
from clockwork.api.container import ResolvedContainer
from clockwork.api.gitrepo import ResolvedGitRepo, is_commit
from clockwork.api.system import ResolvedDirectory, ResolvedPackage, ResolvedUser
from clockwork.api.workload import ResolvedWorkload
from clockwork.compile import workload as workload_compile
from clockwork.health.probing import command_probe
from clockwork.plan import HostResult, Probe, ProbeResult


def directory(d: ResolvedDirectory) -> list[Assertion]:
    if not d.present:
        return [a.FileExistsAssertion(type="fileExists", name="absent", path=d.path, present=False, kind="directory")]
    return [
        a.FileExistsAssertion(type="fileExists", name="exists", path=d.path, kind="directory"),
        a.FilePermissionsAssertion(
            type="filePermissions",
            name="permissions",
            path=d.path,
            kind="directory",
            mode=d.mode,
            owner=d.owner,
            group=d.group,
        ),
    ]


def user(u: ResolvedUser) -> list[Assertion]:
    if not u.present:
        return [
            a.CommandAssertion(type="command", name="absent", command=f"getent passwd {u.name}", expect_exit_code=2)
        ]
    home = re.escape(u.home) if u.home else "[^:]*"
    shell = re.escape(u.shell) if u.shell else "[^:]*"
    return [
        a.CommandAssertion(
            type="command",
            name="account",
            command=f"getent passwd {u.name}",
            output_matches=f"^{re.escape(u.name)}:[^:]*:[0-9]+:[0-9]+:[^:]*:{home}:{shell}$",
        ),
    ]


def package_check_command(names: list[str], present: bool) -> str:
    quoted = " ".join(shlex.quote(n) for n in names)
    want = "installed" if present else "absent"
    return (
        f"bad=''; for p in {quoted}; do n=${{p%%=*}}; "
        "if command -v dpkg-query >/dev/null 2>&1; then "
        "dpkg-query -W -f='${Status}' \"$n\" 2>/dev/null | grep -q 'install ok installed' && s=installed || s=absent; "
        'elif command -v rpm >/dev/null 2>&1; then rpm -q "$n" >/dev/null 2>&1 && s=installed || s=absent; '
        'elif command -v apk >/dev/null 2>&1; then apk info -e "$n" >/dev/null 2>&1 && s=installed || s=absent; '
        "else echo 'no dpkg, rpm or apk on the node'; exit 3; fi; "
        f'[ "$s" = {want} ] || bad="$bad $n"; done; '
        f'if [ -n "$bad" ]; then echo "not {want}:$bad"; exit 1; fi; echo \'all {want}\''
    )


def package(p: ResolvedPackage) -> list[Assertion]:
    return [
        a.CommandAssertion(
            type="command",
            name="installed" if p.present else "absent",
            command=package_check_command(list(p.names), p.present),
            timeout_seconds=60,
        )
    ]


def container(c: ResolvedContainer) -> list[Assertion]:
    if not c.present:
        return [
            a.CommandAssertion(
                type="command",
                name="absent",
                command=f"{c.runtime} container inspect {c.name} >/dev/null 2>&1",
                expect_exit_code=1,
            )
        ]
    found: list[Assertion] = []
    if c.running:
        found.append(
            a.ContainerRunningAssertion(type="containerRunning", name="running", container=c.name, runtime=c.runtime)
        )
        for port in c.ports:
            if port.protocol != "udp":
                host = port.host_ip if port.host_ip and port.host_ip not in ("0.0.0.0", "::") else "127.0.0.1"
                found.append(a.PortAssertion(type="port", name=f"port {port.host}", port=port.host, host=host))
        if c.http_check is not None:
            port_number = c.http_check.port or (c.ports[0].host if c.ports else None)
            if port_number is not None:
                url = f"http://127.0.0.1:{port_number}{c.http_check.path or '/'}"
                found.append(
                    a.HttpAssertion(type="http", name="http", url=url, expect_status=c.http_check.expect_status)
                )
    else:
        found.append(
            a.CommandAssertion(
                type="command",
                name="created",
                command=f"{c.runtime} container inspect -f '{{{{.State.Status}}}}' {c.name}",
                output_matches="^(created|exited)$",
            )
        )
    return found


def gitrepo_check_command(g: ResolvedGitRepo) -> str:
    """Shell that exits 0 when the checkout is at the wanted revision; says where it is."""
    dest = shlex.quote(g.dest)
    git = f"git -c safe.directory='*' -C {dest}"
    if g.ref and is_commit(g.ref):
        want = f"want={shlex.quote(g.ref)}"
    else:
        candidates = []
        if g.pull:  # what the remote has now (a branch that moved is caught before the next apply)
            remote_ref = f"refs/heads/{g.ref}" if g.ref else "HEAD"
            # ls-remote matches by suffix (HEAD also matches refs/remotes/origin/HEAD): the exact ref only.
            exact = f"awk -v r={shlex.quote(remote_ref)} '$2 == r {{print $1; exit}}'"
            candidates.append(f"{git} ls-remote origin {shlex.quote(remote_ref)} 2>/dev/null | {exact}")
        if g.ref:
            for local in (f"refs/tags/{g.ref}^{{commit}}", f"refs/remotes/origin/{g.ref}", f"refs/heads/{g.ref}"):
                candidates.append(f"{git} rev-parse -q --verify {shlex.quote(local)} 2>/dev/null")
        else:
            candidates.append('echo "$head"')
        want = "want=" + "".join(f"${{want:-$({c})}}; want=" for c in candidates)[: -len("; want=")]
    wanted = g.ref or "the default branch"
    return (
        f"[ -d {dest}/.git ] || {{ echo 'no checkout at {g.dest}'; exit 1; }}; "
        f"head=$({git} rev-parse HEAD); want=; {want}; "
        f'[ -n "$want" ] || {{ echo "at $head; {wanted} is not known to this checkout"; exit 1; }}; '
        'case "$head" in "$want"*) echo "at $head";; '
        f'*) echo "at $head, want {wanted} (${{want:-unknown}})"; exit 1;; esac'
    )


def gitrepo(g: ResolvedGitRepo) -> list[Assertion]:
    if not g.present:
        return [a.FileExistsAssertion(type="fileExists", name="absent", path=g.dest, present=False, kind="directory")]
    return [a.CommandAssertion(type="command", name="revision", command=gitrepo_check_command(g), timeout_seconds=60)]


def workload(w: ResolvedWorkload) -> list[Assertion]:
    unit = workload_compile.unit_name(w.name)
    if not w.present:
        return [
            a.FileExistsAssertion(
                type="fileExists", name="absent", path=f"/etc/systemd/system/{unit}.service", present=False
            )
        ]
    if w.run_mode == "schedule":
        command = f"systemctl is-active {unit}.timer"
        check = a.CommandAssertion(type="command", name="timer", command=command, output_matches="^active$")
    elif w.run_mode == "nTimes":
        # one property per call: systemctl prints several in its own order, not the asked one
        show = f"systemctl show {unit}.service --value -p"
        command = f'echo "$({show} ActiveState) $({show} Result)"'
        check = a.CommandAssertion(
            type="command", name="runs", command=command, output_matches="^(active|activating) |^inactive success"
        )
    else:
        command = f"systemctl is-active {unit}.service"
        check = a.CommandAssertion(type="command", name="active", command=command, output_matches="^active$")
    return [check]


# --- run history ----------------------------------------------------------------------------


def history_probe(w: ResolvedWorkload) -> Probe:
    path = shlex.quote(workload_compile.history_path(w.name))
    return command_probe(f"tail -n 20 {path} 2>/dev/null || true")


def runs(w: ResolvedWorkload, host: HostResult) -> list[RunRecord]:
    found: ProbeResult | None = host.probe(history_probe(w).id)
    if found is None or not found.success:
        return []
    records = []
    for line in found.output_tail.splitlines():
        parts = line.split()
        if len(parts) != 3 or not all(p.lstrip("-").isdigit() for p in parts):
            continue
        start, end, code = (int(p) for p in parts)
        records.append(
            RunRecord(
                node=host.name,
                start=datetime.fromtimestamp(start, UTC),
                end=datetime.fromtimestamp(end, UTC),
                exit_code=code,
                duration_seconds=end - start,
            )
        )
    return records
