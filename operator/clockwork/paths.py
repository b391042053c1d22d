"""Where on a node a completer may write: the path rules, as data, in one place.

The guard applies them to the text of every path a completer proposed; the claim
operation (:mod:`clockwork.runners.ops`) applies them again on the node to the
path as the node resolves it (symlinks followed), so that a link planted on the
way cannot carry a write somewhere else. Both call :func:`judge`.

Three kinds of rule, checked in this order:

- the path must be plain (absolute, no ``..``, ``.`` or ``//``);
- it must not be a place that gives code execution or holds credentials
  (:data:`DENY`): system trees, package-manager state, polkit, cron, sudoers,
  ssh, Clockwork's own state, and every dotfile in a home directory;
- it must lie strictly inside one of the allowed roots — never a root itself,
  never a parent of one.

User-written paths are the user's decision and only meet the narrower rules of
:func:`protected` (what no resource may manage or remove, whoever wrote it).
"""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass
from typing import Literal

DEFAULT_ALLOWED_ROOTS: tuple[str, ...] = ("/srv", "/opt", "/var/lib", "/var/log", "/etc/clockwork", "/tmp", "/home")

# Where Clockwork keeps what it recorded on a node (claims, backups): see runners/ops.py.
NODE_STATE_DIR = "/var/lib/clockwork"

DenyKind = Literal["tree", "component", "name", "home-dotfile"]


@dataclass(frozen=True)
class Deny:
    """One rule of the deny list: a tree (the path and all below it), a component
    anywhere in the path, a last component (``fnmatch`` pattern), or any dotfile
    inside a home directory."""

    kind: DenyKind
    value: str
    reason: str


def _trees(reason: str, *paths: str) -> tuple[Deny, ...]:
    return tuple(Deny("tree", p, reason) for p in paths)


DENY: tuple[Deny, ...] = (
    *_trees("is a kernel or runtime file system", "/proc", "/sys", "/dev", "/run", "/var/run"),
    *_trees("belongs to the boot loader or to root's own account", "/boot", "/root"),
    *_trees(
        "holds accounts or credentials",
        "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d",
        "/etc/sudo.conf", "/etc/doas.conf", "/etc/ssh", "/etc/pam.d", "/etc/security", "/etc/login.defs",
        "/etc/shells", "/var/lib/sudo", "/etc/polkit-1", "/var/lib/polkit-1", "/usr/share/polkit-1",
        "/var/lib/AccountsService",
    ),
    *_trees(
        "runs programs on a schedule, at boot or at login",
        "/etc/systemd", "/lib/systemd", "/usr/lib/systemd", "/var/lib/systemd", "/etc/init.d", "/etc/rc.local",
        "/etc/crontab", "/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly",
        "/etc/cron.monthly", "/var/spool/cron", "/var/spool/at", "/etc/profile", "/etc/profile.d",
        "/etc/environment", "/etc/bash.bashrc", "/etc/zsh", "/etc/xdg", "/etc/update-motd.d", "/etc/logrotate.conf",
        "/etc/logrotate.d", "/etc/default", "/etc/udev", "/lib/udev", "/usr/lib/udev", "/etc/modprobe.d",
        "/etc/modules-load.d", "/etc/sysctl.conf", "/etc/sysctl.d", "/etc/ld.so.preload", "/etc/ld.so.conf",
        "/etc/ld.so.conf.d", "/etc/dbus-1", "/usr/share/dbus-1", "/var/lib/dbus", "/etc/cloud", "/var/lib/cloud",
        "/etc/NetworkManager/dispatcher.d", "/etc/network/if-up.d", "/etc/network/if-pre-up.d",
        "/etc/alternatives",
    ),
    *_trees(
        "holds programs and libraries",
        "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32",
        "/usr/lib64", "/usr/libexec", "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib",
    ),
    *_trees(
        "belongs to the package manager (its scripts run as root)",
        "/etc/apt", "/var/lib/apt", "/var/cache/apt", "/etc/dpkg", "/var/lib/dpkg", "/etc/yum.repos.d", "/etc/dnf",
        "/var/lib/rpm", "/var/lib/dnf", "/etc/apk", "/lib/apk", "/var/lib/snapd", "/var/lib/flatpak",
    ),
    *_trees(
        "belongs to a container engine or the cluster",
        "/var/lib/docker", "/etc/docker", "/var/lib/containers", "/etc/containers", "/var/lib/containerd",
        "/var/lib/kubelet", "/etc/kubernetes",
    ),
    *_trees("is Clockwork's own state", NODE_STATE_DIR),
    *_trees("is name resolution", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf"),
    *_trees("is mail delivery", "/var/mail", "/var/spool/mail"),
    *(
        Deny("component", c, "holds credentials or gives code execution")
        for c in (".ssh", ".gnupg", ".kube", ".aws", ".docker", ".git", ".config/systemd")
    ),
    *(
        Deny("name", n, "holds credentials or gives code execution")
        for n in (
            "authorized_keys*", "known_hosts", "id_rsa*", "id_ecdsa*", "id_ed25519*", "shadow", "gshadow", "sudoers",
            "passwd", "group", ".netrc", ".pgpass", ".git-credentials", ".npmrc", ".pypirc", ".gitconfig",
            ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv", ".zprofile",
            ".zlogin", ".cshrc", ".login", ".pam_environment", ".forward", ".rhosts", ".shosts", ".k5login",
            "*.pkla", "*.postinst", "*.preinst", "*.prerm", "*.postrm",
        )
    ),
    Deny("home-dotfile", "/home", "is a dotfile in a home directory (read by shells and tools at login)"),
)  # fmt: skip


# Directories that no resource manages (mode, owner, removal, replacement), whoever
# wrote the path: the top of the file system hierarchy.
SYSTEM_DIRECTORIES: frozenset[str] = frozenset(
    {
        "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt", "/opt",
        "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/include",
        "/usr/lib", "/usr/libexec", "/usr/local", "/usr/local/bin", "/usr/local/lib", "/usr/local/sbin",
        "/usr/sbin", "/usr/share", "/usr/src", "/var", "/var/cache", "/var/lib", "/var/local", "/var/lock",
        "/var/log", "/var/mail", "/var/opt", "/var/run", "/var/spool", "/var/tmp", "/etc/systemd",
        "/etc/systemd/system", NODE_STATE_DIR,
    }
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """Why a path is refused: the rule's name and a sentence for people."""

    rule: str
    message: str


def plain(text: str) -> bool:
    """Absolute, and already in normal form (no ``..``, ``.``, ``//`` or trailing ``/``)."""
    return text.startswith("/") and (text == "/" or posixpath.normpath(text) == text) and not text.startswith("//")


def under(path: str, root: str) -> bool:
    """``path`` is ``root`` or inside it (both plain)."""
    root = root.rstrip("/") or "/"
    return path == root or root == "/" or path.startswith(root + "/")


def denied(path: str) -> Deny | None:
    """The first deny rule a plain path hits."""
    parts = [p for p in path.split("/") if p]
    for rule in DENY:
        if rule.kind == "tree" and under(path, rule.value):
            return rule
        if rule.kind == "component" and _has_components(parts, rule.value.split("/")):
            return rule
        if rule.kind == "name" and parts and fnmatch.fnmatchcase(parts[-1], rule.value):
            return rule
        if (
            rule.kind == "home-dotfile"
            and under(path, rule.value)
            and any(p.startswith(".") for p in parts[len(rule.value.strip("/").split("/")) + 1 :])
        ):
            return rule
    return None


def _has_components(parts: list[str], wanted: list[str]) -> bool:
    return any(parts[i : i + len(wanted)] == wanted for i in range(len(parts) - len(wanted) + 1))


def judge(path: str, roots: tuple[str, ...] | list[str], *, state_dir: str | None = None) -> Finding | None:
    """Why a completer may not write ``path``, or None.

    ``roots`` are the allowed roots (as the node resolves them, when judging on a
    node); ``state_dir`` is where Clockwork keeps its records on that node.
    """
    if not plain(path):
        return Finding("normalised-path", f"{path!r} is not a plain absolute path")
    roots = tuple(r.rstrip("/") or "/" for r in roots)
    for root in roots:
        if under(root, path):
            what = "is an allowed root itself" if root == path else f"is a parent of the allowed root {root}"
            return Finding("root-itself", f"{path} {what}; name something inside it")
    if state_dir and under(path, state_dir.rstrip("/") or "/"):
        return Finding("sensitive-path", f"{path} is Clockwork's own state on the node")
    rule = denied(path)
    if rule is not None:
        return Finding("sensitive-path", f"{path} {rule.reason}")
    if not any(under(path, root) for root in roots):
        return Finding("allowed-roots", f"{path} is outside the allowed roots ({', '.join(roots)})")
    return None


def protected(path: str) -> str | None:
    """Why no resource may manage or remove ``path`` as a whole, whoever wrote it."""
    normal = posixpath.normpath(path) if path.startswith("/") else path
    if normal in SYSTEM_DIRECTORIES:
        return f"{normal} is a system directory; Clockwork manages only what is inside it"
    return None
