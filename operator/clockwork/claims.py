"""Claims: what Clockwork records on a node before it changes something, and how
destroy puts it back. Pure: shell text out, parsed command output in.

Every plan that changes a node starts with a *claim* of each thing it will touch
(a file, a directory, a checkout, an account, a package, a container). The claim
reads the thing as the node sees it and keeps a record under the node's state
folder (``/var/lib/clockwork/claims/<id>/`` for root):

- it did not exist: ``created`` — destroy removes it again (and the parent
  folders apply made, when they are empty);
- it existed and ``onExisting`` is ``backup``: a copy (or its mode, owner,
  account fields, "was installed") is kept — destroy restores exactly that;
- it existed and ``onExisting`` is ``refuse``: the plan fails before anything
  changed, saying what is there;
- it existed and ``onExisting`` is ``adopt``: it is Clockwork's from now on and
  destroy removes it like something Clockwork made.

A removal (``present: false``) of something that exists keeps it aside the same
way (unless adopted), so destroy brings it back. A thing already claimed by
another resource is refused (two resources cannot own one file; packages are
shared). Paths a completer chose are judged again here against the node: the path
as the node resolves it (symlinks followed) must pass :func:`clockwork.paths.judge`
with the allowed roots as the node resolves them.

What a directory or checkout Clockwork made holds at destroy is never deleted with
it: a non-empty directory, or a checkout with local changes, is moved to the
state folder's ``kept/`` instead. The node needs only POSIX sh and coreutils or
BusyBox (stat -c, readlink -f, base64).
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import shlex
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, JsonValue, ValidationError

from clockwork import paths
from clockwork.model import CWModel

OnExisting = Literal["refuse", "backup", "adopt"]
ClaimType = Literal["file", "directory", "checkout", "user", "package", "container"]
ClaimState = Literal["created", "backup", "adopted", "absent"]
PATH_TYPES = ("file", "directory", "checkout")
# What a release says for people starts its output lines with this (Events, CLI).
NOTE = "clockwork: "
LOGIN_SHELLS_WITHOUT_LOGIN = ("nologin", "false")


class ClaimTarget(CWModel):
    """One thing a plan touches, as compile/ names it."""

    type: ClaimType
    key: str = Field(min_length=1, max_length=4096, description="Path, account, package or container name.")
    field: str = Field(default="", description="The spec field it comes from, for messages (spec.path).")
    present: bool = True
    on_existing: OnExisting = "backup"
    # A completer chose this path: the node-side path rules apply.
    guard: bool = False
    recursive: bool = False
    home: str | None = None
    shell: str | None = None
    manager: str | None = None
    runtime: str | None = None
    # A container's named volumes: its data, which destroy leaves in place (and says so).
    volumes: list[str] = Field(default_factory=list)

    @property
    def id(self) -> str:
        return hashlib.sha256(f"{self.type}\0{self.key}".encode()).hexdigest()[:24]

    @property
    def what(self) -> str:
        return f"{self.type} {self.key}"

    def where(self) -> str:
        return f"{self.field}: " if self.field else ""


class Record(CWModel):
    """What a claim left on the node (``record.json``)."""

    owners: list[str] = Field(min_length=1)
    type: ClaimType
    key: str
    # The whole target as it was claimed, so that a release needs nothing but the owner.
    target: ClaimTarget | None = None
    state: ClaimState
    before: dict[str, JsonValue] = Field(default_factory=dict)
    created_parents: list[str] = Field(default_factory=list)


@dataclass
class Facts:
    """What the read command found for one target."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def text(self, key: str) -> str | None:
        raw = self.values.get(key)
        if raw is None:
            return None
        try:
            return base64.b64decode(raw).decode(errors="surrogateescape") if raw else ""
        except ValueError:
            return None

    @property
    def record(self) -> Record | None:
        raw = self.text("record")
        if not raw:
            return None
        try:
            return Record.model_validate_json(raw)
        except ValidationError:
            return None


@dataclass
class NodeState:
    state_dir: str
    roots: list[str]
    targets: dict[str, Facts]

    def facts(self, target: ClaimTarget) -> Facts:
        return self.targets.get(target.id, Facts())


class Refused(Exception):
    """A claim that must not go ahead; the message names the field, the thing and what to do."""


# --- reading ----------------------------------------------------------------------------------

_PRELUDE = (
    "b64() { base64 | tr -d '\\n'; }; "
    # The path as the node resolves it: the deepest existing ancestor through readlink -f, plus the rest.
    'rp() { p=$1; rest=\'\'; while [ "$p" != / ] && [ ! -e "$p" ] && [ ! -L "$p" ]; do '
    'rest="/${p##*/}$rest"; p=${p%/*}; [ -n "$p" ] || p=/; done; '
    'r=$(readlink -f -- "$p" 2>/dev/null) || r=$p; r="${r%/}$rest"; printf %s "${r:-/}"; }; '
)


def state_dir_command(state_dir: str | None) -> str:
    """Sets ``S`` to the node's state folder (given, or root's and a user's default)."""
    if state_dir:
        return f"S={shlex.quote(state_dir)}; "
    return (
        f'if [ "$(id -u)" = 0 ]; then S={paths.NODE_STATE_DIR}; '
        'else S="${XDG_STATE_HOME:-$HOME/.local/state}/clockwork"; fi; '
    )


# What ``plan`` reads of a file's content to show a diff; a bigger file is compared by hash.
DIFF_CONTENT_MAX = 65536


def read_command(targets: list[ClaimTarget], state_dir: str | None, roots: list[str], detail: bool = False) -> str:
    """One command that reports every target's state and claim record; with ``detail``
    (``plan``) also what a diff needs: content, owner names, a container's config."""
    parts = [_PRELUDE, state_dir_command(state_dir), 'echo "state $(printf %s "$S" | b64)"; ']
    if any(t.guard for t in targets):
        for root in roots:
            parts.append(f'echo "root $(rp {shlex.quote(root)} | b64)"; ')
    for target in targets:
        parts.append(f"echo 't {target.id}'; ")
        parts.append(_read_target(target))
        if detail:
            parts.append(_read_detail(target))
        record = f'"$S/claims/{target.id}/record.json"'
        parts.append(f'[ -f {record} ] && echo "record $(b64 < {record})"; ')
    parts.append("true")
    return "".join(parts)


def _read_target(target: ClaimTarget) -> str:
    q = shlex.quote(target.key)
    if target.type in PATH_TYPES:
        return (
            f"p={q}; "
            'if [ -L "$p" ]; then k=link; elif [ -d "$p" ]; then k=dir; elif [ -e "$p" ]; then k=file; '
            "else k=absent; fi; "
            'echo "kind $k"; '
            '[ "$k" = absent ] || echo "stat $(stat -c \'%a %u %g\' -- "$p" 2>/dev/null)"; '
            'echo "real $(rp "$p" | b64)"; '
            'q=${p%/*}; m=\'\'; while [ -n "$q" ] && [ ! -e "$q" ] && [ ! -L "$q" ]; do m=$q; q=${q%/*}; done; '
            'echo "missing $(printf %s "$m" | b64)"; '
            '[ "$k" = dir ] && { if [ -n "$(ls -A -- "$p" 2>/dev/null | head -c 1)" ]; then echo "full 1"; '
            'else echo "full 0"; fi; }; '
            '[ "$k" = dir ] && [ -d "$p/.git" ] && { if [ -n "$(git -C "$p" status --porcelain 2>/dev/null '
            '| head -c 1)" ]; then echo "dirty 1"; else echo "dirty 0"; fi; }; '
        )
    if target.type == "user":
        parts = [
            f"u={q}; ",
            'e=$(getent passwd "$u") && echo "passwd $(printf %s "$e" | b64)"; ',
            'g=$(id -Gn "$u" 2>/dev/null) && echo "groups $(printf %s "$g" | b64)"; ',
            's=$(getent shadow "$u" 2>/dev/null) && echo "shadow $(printf %s "$s" | b64)"; ',
            # The primary group: userdel takes a private one with it, and restoring needs it back.
            'pg=$(getent group "$(id -g "$u" 2>/dev/null)" 2>/dev/null) && echo "pgroup $(printf %s "$pg" | b64)"; ',
        ]
        if target.home:
            h = shlex.quote(target.home)
            parts.append(
                f'h={h}; [ -e "$h" ] && echo "home $(stat -c \'%u\' -- "$h" 2>/dev/null)"; '
                'echo "homereal $(rp "$h" | b64)"; '
            )
        if target.shell:
            sh = shlex.quote(target.shell)
            parts.append(
                f'[ -x {sh} ] && echo "shellx 1"; grep -qxF -- {sh} /etc/shells 2>/dev/null && echo "shells 1"; '
            )
        return "".join(parts)
    if target.type == "package":
        name = shlex.quote(target.key.split("=", 1)[0])
        return (
            f"n={name}; "
            "if command -v dpkg-query >/dev/null 2>&1; then "
            "dpkg-query -W -f='${Status}' \"$n\" 2>/dev/null | grep -q 'install ok installed' "
            '&& echo "installed 1" || echo "installed 0"; '
            'elif command -v rpm >/dev/null 2>&1; then rpm -q "$n" >/dev/null 2>&1 '
            '&& echo "installed 1" || echo "installed 0"; '
            'elif command -v apk >/dev/null 2>&1; then apk info -e "$n" >/dev/null 2>&1 '
            '&& echo "installed 1" || echo "installed 0"; '
            "else echo 'installed ?'; fi; "
        )
    runtime = shlex.quote(target.runtime or "docker")
    return (
        f"x=$({runtime} container inspect --format "
        "'{{index .Config.Labels \"clockwork.dev/spec\"}}|{{.State.Running}}' "
        f'{q} 2>/dev/null) && echo "container $(printf %s "$x" | b64)"; '
    )


def _read_detail(target: ClaimTarget) -> str:
    q = shlex.quote(target.key)
    if target.type in PATH_TYPES:
        return (
            f"p={q}; "
            '[ -e "$p" ] && [ ! -L "$p" ] && echo "names $(stat -c \'%U %G\' -- "$p" 2>/dev/null)"; '
            f'[ -f "$p" ] && [ ! -L "$p" ] && {{ z=$(stat -c %s -- "$p"); echo "size $z"; '
            f'if [ "$z" -le {DIFF_CONTENT_MAX} ]; then echo "content $(b64 < "$p")"; '
            'else echo "sha $(sha256sum < "$p" | cut -c1-64)"; fi; }; '
            '[ -d "$p/.git" ] && echo "rev $(git -C "$p" rev-parse HEAD 2>/dev/null)" '
            '&& echo "origin $(git -C "$p" remote get-url origin 2>/dev/null | b64)"; '
        )
    if target.type == "container":
        runtime = shlex.quote(target.runtime or "docker")
        return (
            f"j=$({runtime} container inspect --format '{{{{json .}}}}' {q} 2>/dev/null) && "
            'echo "inspect $(printf %s "$j" | b64)" && '
            f"i=$({runtime} container inspect --format '{{{{.Image}}}}' {q} 2>/dev/null) && "
            f'echo "imageenv $({runtime} image inspect --format \'{{{{json .Config.Env}}}}\' "$i" 2>/dev/null '
            '| b64)"; '
        )
    return ""


def owned_command(state_dir: str | None) -> str:
    """One command that prints every claim record on the node."""
    return (
        _PRELUDE
        + state_dir_command(state_dir)
        + 'for f in "$S"/claims/*/record.json; do [ -f "$f" ] && echo "rec $(b64 < "$f")"; done; true'
    )


def owned(output: str, owner: str) -> list[ClaimTarget]:
    """The targets ``owner`` claimed on the node, from :func:`owned_command`'s output."""
    found = []
    for line in output.splitlines():
        key, _, value = line.strip().partition(" ")
        if key != "rec":
            continue
        record = Facts({"record": value}).record
        if record is not None and owner in record.owners and record.target is not None:
            found.append(record.target)
    return sorted(found, key=lambda t: (t.type, t.key))


def parse(output: str) -> NodeState:
    """The read command's output, line by line."""
    state_dir = ""
    roots: list[str] = []
    targets: dict[str, Facts] = {}
    current: Facts | None = None
    for line in output.splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "state":
            state_dir = Facts({"v": value}).text("v") or ""
        elif key == "root":
            roots.append(Facts({"v": value}).text("v") or "")
        elif key == "t":
            current = targets.setdefault(value, Facts())
        elif current is not None and key:
            current.values[key] = value
    return NodeState(state_dir=state_dir, roots=roots, targets=targets)


def node_state(value: dict[str, JsonValue]) -> NodeState:
    """The Claims fact's answer (see runners/claim_ops.py) back as a NodeState."""
    targets = value.get("targets")
    roots = value.get("roots")
    return NodeState(
        state_dir=str(value.get("stateDir") or ""),
        roots=[str(r) for r in roots] if isinstance(roots, list) else [],
        targets={
            str(k): Facts({str(a): str(b) for a, b in v.items()})
            for k, v in (targets.items() if isinstance(targets, dict) else [])
            if isinstance(v, dict)
        },
    )


# --- judging ------------------------------------------------------------------------------------


def _stat(facts: Facts) -> dict[str, JsonValue]:
    words = (facts.get("stat") or "").split()
    return {"mode": words[0], "uid": words[1], "gid": words[2]} if len(words) >= 3 else {}


def exists(target: ClaimTarget, facts: Facts) -> bool:
    if target.type in PATH_TYPES:
        return facts.get("kind") not in (None, "absent")
    if target.type == "user":
        return facts.get("passwd") is not None
    if target.type == "package":
        return facts.get("installed") == "1"
    return facts.get("container") is not None


def _path_kind(facts: Facts) -> tuple[str, str]:
    """What stands at a path ("file", "directory", ...) and its mode and owner, in words."""
    kind = {"file": "file", "dir": "directory", "link": "symbolic link"}.get(facts.get("kind") or "", "path")
    stat = _stat(facts)
    return kind, f" (mode {stat['mode']}, uid {stat['uid']})" if stat else ""


def describe_existing(target: ClaimTarget, facts: Facts) -> str:
    if target.type in PATH_TYPES:
        kind, extra = _path_kind(facts)
        return f"{target.key} already exists as a {kind}{extra}"
    if target.type == "user":
        return f"the account {target.key} already exists"
    if target.type == "package":
        return f"the package {target.key} is already installed"
    return f"a container named {target.key} already exists"


def problem(target: ClaimTarget, facts: Facts, state: NodeState, node: str) -> str | None:
    """Why this target may not be touched on this node at all (whatever onExisting says)."""
    if target.type in PATH_TYPES:
        return _path_problem(target, facts, state, node)
    if target.type == "user":
        return _user_problem(target, facts, node)
    return None


def _path_problem(target: ClaimTarget, facts: Facts, state: NodeState, node: str) -> str | None:
    real = facts.text("real") or target.key
    kind = facts.get("kind")
    if state.state_dir and paths.under(real, state.state_dir):
        return f"{target.where()}{target.key} is inside Clockwork's own state folder on {node}"
    if target.type == "directory" and (why := paths.protected(real)):
        shown = f"{target.key} (which resolves to {real})" if real != target.key else target.key
        return f"{target.where()}{shown}: {why.split(' ', 1)[1]}"
    if target.present and target.type == "file" and kind == "dir":
        return f"{target.where()}{target.key} is a directory on {node}; a File cannot replace a directory"
    if target.present and target.type != "file" and kind == "file":
        return f"{target.where()}{target.key} is a file on {node}, not a directory"
    if not target.guard:
        return None
    roots = tuple(state.roots) or paths.DEFAULT_ALLOWED_ROOTS
    finding = paths.judge(real, roots, state_dir=state.state_dir or None)
    if finding is None:
        return None
    if real != target.key:
        return (
            f"{target.where()}{target.key} resolves to {real} on {node} through a symbolic link, and "
            f"{finding.message.removeprefix(real + ' ')} (rule: symlink-escape)"
        )
    return f"{target.where()}{finding.message} (rule: {finding.rule})"


def _user_problem(target: ClaimTarget, facts: Facts, node: str) -> str | None:
    if not target.present:
        return None
    if target.home and (why := paths.protected(facts.text("homereal") or target.home)):
        return f"spec.home: {why}"
    if target.shell:
        login = posixpath.basename(target.shell) not in LOGIN_SHELLS_WITHOUT_LOGIN
        if facts.get("shellx") != "1":
            return f"spec.shell: {target.shell} is not an executable on {node} (rule: known-shell)"
        if login and facts.get("shells") != "1":
            return f"spec.shell: {target.shell} is not listed in /etc/shells on {node} (rule: known-shell)"
    if target.home and facts.get("home") is not None and target.on_existing != "adopt":
        passwd = (facts.text("passwd") or "").split(":")
        uid = passwd[2] if len(passwd) > 2 else None
        if facts.get("home") != uid:
            return (
                f"spec.home: {target.home} already exists on {node} and belongs to uid {facts.get('home')}; giving "
                f"it to {target.key} would change its owner. Choose another home, or set spec.onExisting: adopt"
            )
    return None


# --- claiming ---------------------------------------------------------------------------------


@dataclass
class Plan:
    """Commands for the node, in order; empty when nothing needs recording or restoring."""

    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _record_command(target: ClaimTarget, record: Record) -> str:
    data = base64.b64encode(record.model_dump_json(by_alias=True).encode()).decode()
    folder = f'"$S/claims/{target.id}"'
    temp = f"{folder}/record.json.tmp"
    return f"printf %s {data} | base64 -d > {temp} && mv -f {temp} {folder}/record.json"


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
            return [_prepare(target) + " && " + _record_command(target, shared)]
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
    return [" && ".join([_prepare(target), *steps, _record_command(target, new)])]


def _backup(target: ClaimTarget, facts: Facts) -> tuple[dict[str, JsonValue], list[str]]:
    """What to keep of an existing thing, and the commands that keep it."""
    q = shlex.quote(target.key)
    folder = f'"$S/claims/{target.id}"'
    if target.type in PATH_TYPES:
        before: dict[str, JsonValue] = {"kind": facts.get("kind") or "", **_stat(facts)}
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
        kind, extra = _path_kind(facts)
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


# --- releasing (destroy) -------------------------------------------------------------------------


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
            plan.commands.append(_record_command(target, rest))
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


def wrap(state_dir: str | None, commands: list[str]) -> str:
    """The commands as one shell command with the state folder set (claims and releases)."""
    return state_dir_command(state_dir) + " && ".join(f"{{ {c}; }}" for c in commands)
