"""Reading a node: the shell commands that report each target's state and claim record, and their parsing."""

from __future__ import annotations

import shlex

from pydantic import JsonValue

from clockwork import paths
from clockwork.claims.targets import PATH_TYPES, ClaimTarget, Facts, NodeState

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


def wrap(state_dir: str | None, commands: list[str]) -> str:
    """The commands as one shell command with the state folder set (claims and releases)."""
    return state_dir_command(state_dir) + " && ".join(f"{{ {c}; }}" for c in commands)
