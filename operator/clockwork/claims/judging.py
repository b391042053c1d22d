"""Judging what was read: whether a target exists, and what stops a claim of it."""

from __future__ import annotations

import posixpath

from pydantic import JsonValue

from clockwork import paths
from clockwork.claims.targets import LOGIN_SHELLS_WITHOUT_LOGIN, PATH_TYPES, ClaimTarget, Facts, NodeState


def stat_of(facts: Facts) -> dict[str, JsonValue]:
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


def path_kind(facts: Facts) -> tuple[str, str]:
    """What stands at a path ("file", "directory", ...) and its mode and owner, in words."""
    kind = {"file": "file", "dir": "directory", "link": "symbolic link"}.get(facts.get("kind") or "", "path")
    stat = stat_of(facts)
    return kind, f" (mode {stat['mode']}, uid {stat['uid']})" if stat else ""


def describe_existing(target: ClaimTarget, facts: Facts) -> str:
    if target.type in PATH_TYPES:
        kind, extra = path_kind(facts)
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
