"""Claiming: what to record on a node before a plan changes it, and what plan says it would do."""

from __future__ import annotations

import posixpath
import shlex

from pydantic import JsonValue

from clockwork import paths
from clockwork.claims.judging import describe_existing, exists, path_kind, problem, stat_of
from clockwork.claims.targets import (
    PATH_TYPES,
    ClaimState,
    ClaimTarget,
    Facts,
    NodeState,
    Plan,
    Record,
    Refused,
    record_command,
)


def _prepare(target: ClaimTarget) -> str:
    return f'umask 077 && mkdir -p "$S/claims/{target.id}" && chmod 700 "$S" "$S/claims"'


def claim(owner: str, targets: list[ClaimTarget], state: NodeState, node: str) -> Plan:
    """What to record before the plan runs; raises :class:`Refused` (nothing changed yet)."""
    plan = Plan()
    problems: list[str] = []
    for target in targets:
        try:
            plan.commands += _claim_one(owner, target, state.facts(target), state, node)
        except Refused as exc:
            problems.append(str(exc))
    if problems:
        raise Refused("; ".join(problems))
    return plan


def decide(owner: str, target: ClaimTarget, facts: Facts, node: str, state: NodeState) -> ClaimState | None:
    """The record a claim of ``target`` leaves (None: the claim is already there); or Refused."""
    if why := problem(target, facts, state, node):
        raise Refused(why)
    record = facts.record
    if record is not None:
        if owner in record.owners or target.type == "package":
            return None  # ours already (packages: shared, see _claim_one)
        raise Refused(
            f"{target.where()}{target.what} on {node} is already managed by {', '.join(record.owners)}; "
            f"one thing has one owner (if that resource is gone, remove {state.state_dir}/claims/{target.id} "
            "on the node)"
        )
    if not exists(target, facts):
        return "created" if target.present else "absent"
    if target.on_existing == "refuse":
        if target.present:
            what = "backup to replace it (destroy puts it back), or adopt to take it over for good"
        else:
            what = "backup to remove it (it is kept aside and destroy puts it back), or adopt to remove it for good"
        raise Refused(
            f"{target.where()}{describe_existing(target, facts)} on {node} and Clockwork did not create it; "
            f"nothing was changed. Set spec.onExisting: {what}"
        )
    return "adopted" if target.on_existing == "adopt" else "backup"


def _claim_one(owner: str, target: ClaimTarget, facts: Facts, state: NodeState, node: str) -> list[str]:
    decided = decide(owner, target, facts, node, state)
    record = facts.record
    if decided is None:
        if record is not None and owner not in record.owners:  # a package another resource installed
            shared = record.model_copy(update={"owners": [*record.owners, owner]})
            return [_prepare(target) + " && " + record_command(target, shared)]
        return []
    before: dict[str, JsonValue] = {}
    steps: list[str] = []
    if decided == "backup":
        before, steps = _backup(target, facts)
    if target.type == "user" and target.home and facts.get("home") is None and decided == "created":
        before["homeCreated"] = True
    parents: list[str] = []
    missing = facts.text("missing")
    if target.type in ("file", "checkout") and missing and target.present:
        parent = posixpath.dirname(target.key)
        while parent and parent != "/" and paths.under(parent, missing):
            parents.append(parent)
            parent = posixpath.dirname(parent)
    new = Record(owners=[owner], type=target.type, key=target.key, target=target, state=decided, before=before,
                 created_parents=parents)  # fmt: skip
    return [" && ".join([_prepare(target), *steps, record_command(target, new)])]


def _backup(target: ClaimTarget, facts: Facts) -> tuple[dict[str, JsonValue], list[str]]:
    """What to keep of an existing thing, and the commands that keep it."""
    q = shlex.quote(target.key)
    folder = f'"$S/claims/{target.id}"'
    if target.type in PATH_TYPES:
        before: dict[str, JsonValue] = {"kind": facts.get("kind") or "", **stat_of(facts)}
        if target.type == "file" and target.present:
            return before, [f"cp -a -- {q} {folder}/backup"]
        if target.type == "directory" and target.present:
            if not target.recursive:
                return before, []
            return before, [
                f"! find {q} -name '*\n*' | grep -q .",  # a name with a line break cannot be listed back
                f"find {q} ! -type l -exec stat -c '%a %u %g %n' {{}} + > {folder}/modes",
            ]
        # Removed, or replaced by a fresh checkout: moved aside whole, which is also the removal.
        return before, [f"mv -- {q} {folder}/backup"]
    if target.type == "user":
        before = {
            "passwd": facts.text("passwd") or "",
            "groups": facts.text("groups") or "",
            "primaryGroup": facts.text("pgroup") or "",
        }
        if facts.get("shadow") is not None:
            before["shadow"] = facts.text("shadow") or ""
        return before, []
    if target.type == "package":
        return {"installed": True}, []
    found = (facts.text("container") or "|").split("|")
    running = len(found) > 1 and found[1] == "true"
    runtime = shlex.quote(target.runtime or "docker")
    aside = shlex.quote(aside_name(target))
    steps = [f"{runtime} rename {q} {aside}"]
    if running:
        steps.append(f"{runtime} stop --time 10 {aside} >/dev/null")
    return {"running": running, "aside": aside_name(target)}, steps


def aside_name(target: ClaimTarget) -> str:
    """The name a container set aside by a backup goes by until destroy."""
    return f"{target.key}-clockwork-backup-{target.id[:8]}"


def preview(owner: str, targets: list[ClaimTarget], state: NodeState, node: str) -> list[str]:
    """What applying would do to each target, in words, for ``plan``."""
    lines = []
    for target in targets:
        facts = state.facts(target)
        try:
            decided = decide(owner, target, facts, node, state)
        except Refused as exc:
            lines.append(f"{node}: refuses: {exc}")
            continue
        if decided is None:
            lines.append(f"{node}: {target.what} is already Clockwork's ({', '.join(facts.record.owners)})"
                         if facts.record else f"{node}: {target.what}")  # fmt: skip
        elif decided == "created":
            lines.append(f"{node}: creates {target.what}")
        elif decided == "absent":
            lines.append(f"{node}: {target.what} is already absent")
        elif decided == "adopted":
            lines.append(f"{node}: takes over {_existing(target, facts)} (onExisting: adopt: nothing is kept)")
        elif not target.present:
            lines.append(f"{node}: removes {_existing(target, facts)}: it is kept aside and destroy puts it back")
        else:
            lines.append(f"{node}: {_backup_phrase(target, facts)}")
    return lines


def _existing(target: ClaimTarget, facts: Facts) -> str:
    if target.type in PATH_TYPES:
        kind, extra = path_kind(facts)
        return f"the existing {kind} {target.key}{extra}"
    noun = {"user": "account", "package": "package", "container": "container"}[target.type]
    return f"the existing {noun} {target.key}"


def _backup_phrase(target: ClaimTarget, facts: Facts) -> str:
    existing = _existing(target, facts)
    if target.type == "directory":
        return f"changes {existing}: its mode and owner are kept and destroy puts them back"
    if target.type == "user":
        return f"changes {existing}: its fields are kept and destroy puts them back"
    if target.type == "package":
        return f"{existing} is already installed: destroy leaves it installed"
    if target.type == "container":
        return f"sets {existing} aside (stopped, renamed {aside_name(target)}): destroy brings it back"
    return f"replaces {existing}: a backup is kept and destroy puts it back"
