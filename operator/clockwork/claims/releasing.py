"""Releasing (destroy): putting back what each claim recorded."""

from __future__ import annotations

import shlex
from typing import Literal

from clockwork.claims.claiming import aside_name
from clockwork.claims.targets import NOTE, PATH_TYPES, ClaimTarget, Facts, NodeState, Plan, Record, record_command


def release(owner: str, targets: list[ClaimTarget], state: NodeState, node: str) -> Plan:
    """Put back what each claim of ``owner`` recorded, newest target first."""
    plan = Plan()
    for target in reversed(targets):
        facts = state.facts(target)
        record = facts.record
        if record is None or owner not in record.owners:
            continue
        if len(record.owners) > 1:
            rest = record.model_copy(update={"owners": [o for o in record.owners if o != owner]})
            plan.commands.append(record_command(target, rest))
            plan.notes.append(f"{target.what} is still claimed by {', '.join(rest.owners)}; left as it is")
            continue
        steps, notes = _restore(target, record, facts, state)
        said = [f"echo {shlex.quote(NOTE + note)}" for note in notes]
        plan.commands.append(" && ".join([*steps, f'rm -rf "$S/claims/{target.id}"', *said]))
        plan.notes += notes
    return plan


def _kept(target: ClaimTarget) -> str:
    return f'"$S/kept/{target.id}-$(date +%s)"'


def _restore(target: ClaimTarget, record: Record, facts: Facts, state: NodeState) -> tuple[list[str], list[str]]:
    if record.state == "absent":
        return [], []
    if target.type in PATH_TYPES:
        return _restore_path(target, record, facts, state)
    if target.type == "user":
        return _restore_user(target, record, facts, state), []
    if target.type == "package":
        return _restore_package(target, record, facts), []
    q = shlex.quote(target.key)
    runtime = shlex.quote(target.runtime or "docker")
    steps = [f"{{ {runtime} rm --force {q} >/dev/null 2>&1 || true; }}"]
    if record.state == "backup":
        steps.append(f"{runtime} rename {shlex.quote(str(record.before.get('aside') or aside_name(target)))} {q}")
        if record.before.get("running"):
            steps.append(f"{runtime} start {q} >/dev/null")
    notes = []
    if target.volumes:
        named, word = " ".join(target.volumes), "volume" if len(target.volumes) == 1 else "volumes"
        notes.append(f"{word} {named} kept with the container's data (`{target.runtime or 'docker'} volume rm "
                     f"{named}` removes it)")  # fmt: skip
    return steps, notes


def _restore_path(target: ClaimTarget, record: Record, facts: Facts, state: NodeState) -> tuple[list[str], list[str]]:
    q = shlex.quote(target.key)
    folder = f'"$S/claims/{target.id}"'
    kind = facts.get("kind")
    steps: list[str] = []
    notes: list[str] = []
    # What stands at the path now is Clockwork's, except an existing directory it only changed.
    ours = record.state in ("created", "adopted") or (record.state == "backup" and target.type != "directory")
    if ours and target.present and kind not in (None, "absent"):
        keep = kind == "dir" and (
            (target.type == "directory" and facts.get("full") == "1")
            or (target.type == "checkout" and facts.get("dirty") == "1")
            or target.type == "file"  # a directory someone put where Clockwork's file was
        )
        if keep:
            steps.append(f'mkdir -p "$S/kept" && mv -- {q} {_kept(target)}')
            why = {"directory": "is not empty", "checkout": "has local changes"}.get(target.type, "is a directory now")
            notes.append(f"{target.key} {why}: moved to {state.state_dir}/kept/ instead of removed")
        else:
            steps.append(f"rm -rf -- {q}")
    if record.state == "backup":
        if target.type == "directory" and target.present:
            steps += _restore_modes(target, record, folder)
        else:
            if not target.present and kind not in (None, "absent"):  # something new took its place since
                steps.append(f'mkdir -p "$S/kept" && mv -- {q} {_kept(target)}')
            steps.append(f"mv -- {folder}/backup {q}")
    for parent in record.created_parents:
        steps.append(f"{{ rmdir -- {shlex.quote(parent)} 2>/dev/null || true; }}")
    return steps, notes


def _restore_modes(target: ClaimTarget, record: Record, folder: str) -> list[str]:
    q = shlex.quote(target.key)
    before = record.before
    steps = []
    if before.get("uid") is not None:
        steps.append(f"chown -h {before['uid']}:{before['gid']} -- {q}")
    if before.get("mode"):
        steps.append(f"chmod {before['mode']} -- {q}")
    if target.recursive:
        steps.append(
            f"{{ [ ! -f {folder}/modes ] || while IFS= read -r line; do m=${{line%% *}}; r=${{line#* }}; "
            'u=${r%% *}; r=${r#* }; g=${r%% *}; f=${r#* }; chown -h "$u:$g" -- "$f" && chmod "$m" -- "$f"; '
            f"done < {folder}/modes; }}"
        )
    return steps


def _restore_user(target: ClaimTarget, record: Record, facts: Facts, state: NodeState) -> list[str]:
    q = shlex.quote(target.key)
    exists_now = facts.get("passwd") is not None
    steps: list[str] = []
    if record.state in ("created", "adopted"):
        if exists_now:
            steps.append(f"userdel {q}")
        if record.before.get("homeCreated") and target.home:
            h = shlex.quote(target.home)
            keep = f'{{ mkdir -p "$S/kept" && mv -- {h} {_kept(target)}; }}'
            steps.append(f"{{ rmdir -- {h} 2>/dev/null || {{ [ ! -e {h} ] || {keep}; }}; }}")
        return steps
    fields = str(record.before.get("passwd") or "").split(":")
    if len(fields) < 7:
        return steps
    _, _, uid, gid, comment, home, shell = fields[:7]
    groups = [g for g in str(record.before.get("groups") or "").split() if g]
    supplementary = ",".join(groups[1:])
    group = str(record.before.get("primaryGroup") or "").split(":")
    if not exists_now and len(group) >= 3 and group[2] == gid:
        steps.append(f"{{ getent group {shlex.quote(gid)} >/dev/null || groupadd -g {shlex.quote(gid)} "
                     f"{shlex.quote(group[0])}; }}")  # fmt: skip
    if exists_now:
        steps.append(
            f"usermod -d {shlex.quote(home)} -s {shlex.quote(shell)} -g {shlex.quote(gid)} "
            f"-G {shlex.quote(supplementary)} -c {shlex.quote(comment)} {q}"
        )
    else:
        more = f" -G {shlex.quote(supplementary)}" if supplementary else ""
        steps.append(
            f"useradd -M -u {shlex.quote(uid)} -g {shlex.quote(gid)} -d {shlex.quote(home)} "
            f"-s {shlex.quote(shell)} -c {shlex.quote(comment)}{more} {q}"
        )
    shadow = str(record.before.get("shadow") or "").split(":")
    if len(shadow) > 1 and shadow[1]:
        steps.append(f"printf '%s:%s\\n' {q} {shlex.quote(shadow[1])} | chpasswd -e")
    return steps


def _restore_package(target: ClaimTarget, record: Record, facts: Facts) -> list[str]:
    name = shlex.quote(target.key)
    installed = facts.get("installed") == "1"
    if record.state in ("created", "adopted") and installed:
        return [_package_command("remove", name)]
    if record.state == "backup" and record.before.get("installed") and not installed:
        return [_package_command("install", name)]
    return []


def _package_command(verb: Literal["install", "remove"], name: str) -> str:
    apt = "install -y --no-install-recommends" if verb == "install" else "remove -y"
    apk = "add" if verb == "install" else "del"
    return (
        f"if command -v apt-get >/dev/null 2>&1; then DEBIAN_FRONTEND=noninteractive apt-get {apt} -- {name}; "
        f"elif command -v dnf >/dev/null 2>&1; then dnf {verb} -y {name}; "
        f"elif command -v apk >/dev/null 2>&1; then apk {apk} {name}; "
        "else echo 'no apt-get, dnf or apk on the node' >&2; false; fi"
    )
