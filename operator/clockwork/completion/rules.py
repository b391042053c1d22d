"""The guard's rule for each marked type (Guarded): what a completer's value must not be."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clockwork import paths
from clockwork.api.types import Guarded
from clockwork.completion.policy import CLOCKWORK_NETWORK, GuardPolicy, Violation
from clockwork.text import redact_url

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,252}$")


_IMAGE = re.compile(
    r"^(?:(?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::[0-9]{1,5})?/)?"  # registry
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"  # path
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"  # tag
    r"(?:@sha256:[a-f0-9]{64})?$"  # digest
)


# A completer's package names: plain names, no version pins, no apt action suffixes.
_PACKAGE = re.compile(r"^[a-z0-9](?:[a-z0-9.+-]{0,126}[a-z0-9+])?$")


# Shells a completer may give an account (a user may write any shell the node lists).
KNOWN_SHELLS = frozenset(
    {"/bin/sh", "/bin/bash", "/usr/bin/bash", "/bin/dash", "/usr/bin/dash", "/bin/zsh", "/usr/bin/zsh",
     "/usr/bin/fish", "/bin/ash", "/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false"}
)  # fmt: skip


# Environment variables that load code into whatever runs with them.
DANGEROUS_ENV_PREFIXES = ("LD_", "DYLD_", "GIT_", "PYTHON", "PERL", "RUBY", "NODE_", "LUA_", "JAVA_", "_JAVA_")


DANGEROUS_ENV = frozenset(
    {"PATH", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "IFS", "PS4", "PROMPT_COMMAND", "JDK_JAVA_OPTIONS",
     "GCONV_PATH", "HOSTALIASES", "LOCPATH", "NLSPATH", "RESOLV_HOST_CONF", "SSL_CERT_FILE", "SSL_CERT_DIR",
     "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
     "ALL_PROXY", "LESSOPEN", "EDITOR", "VISUAL", "PAGER"}
)  # fmt: skip


@dataclass
class Walk:
    policy: GuardPolicy
    proposed: set[str]
    found: list[Violation] = field(default_factory=list)

    def add(self, path: str, rule: str, message: str) -> None:
        self.found.append(Violation(path, rule, message))


def _path(walk: Walk, path: str, value: Any) -> None:
    finding = paths.judge(str(value), walk.policy.allowed_roots)
    if finding is not None:
        walk.add(path, finding.rule, finding.message)


def _name(walk: Walk, path: str, value: Any) -> None:
    if not _SAFE_NAME.match(str(value)):
        walk.add(path, "safe-name", f"{value!r} may only use letters, digits and . _ - @ +")


def _mode(walk: Walk, path: str, value: Any) -> None:
    try:
        bits = int(str(value), 8)
    except ValueError:
        walk.add(path, "file-mode", f"{value!r} is not an octal mode")
        return
    if bits & 0o7000:
        walk.add(path, "file-mode", f"{value} sets setuid/setgid/sticky bits")
    elif bits & 0o002:
        walk.add(path, "file-mode", f"{value} is world-writable")


def _content(walk: Walk, path: str, value: Any) -> None:
    size = len(str(value).encode())
    if size > walk.policy.max_content_bytes:
        walk.add(path, "content-size", f"{size} bytes is more than {walk.policy.max_content_bytes} allowed")


def _image(walk: Walk, path: str, value: Any) -> None:
    if not _IMAGE.match(str(value)) or len(str(value)) > 255:
        walk.add(path, "image-reference", f"{value!r} is not a well-formed image reference")


def _port(walk: Walk, path: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        walk.add(path, "port-range", f"{value!r} is not a port number (1-65535)")
    elif value == 22:
        walk.add(path, "ssh-port", "22 would take over the node's SSH port")
    elif value < 1024 and not walk.policy.allow_privileged_ports:
        walk.add(path, "privileged-port", f"{value} is a privileged port (below 1024)")


def _privileged(walk: Walk, path: str, value: Any) -> None:
    if value is True:
        walk.add(path, "no-privilege", "completers may not grant privilege; set it yourself if you mean it")


def _host_path(walk: Walk, path: str, value: Any) -> None:
    if value:
        walk.add(path, "no-host-mount", "completers may not mount host paths; set it yourself if you mean it")


def _shell(walk: Walk, path: str, value: Any) -> None:
    if str(value) not in KNOWN_SHELLS:
        walk.add(path, "known-shell", f"{value!r} is not one of the usual shells ({', '.join(sorted(KNOWN_SHELLS))})")


def _package(walk: Walk, path: str, value: Any) -> None:
    if not _PACKAGE.match(str(value)):
        walk.add(path, "package-name", f"{value!r} is not a plain package name (no versions, no trailing '-')")


def _env(walk: Walk, path: str, value: Any) -> None:
    if not isinstance(value, dict):
        return
    for key in sorted(value):
        if key in DANGEROUS_ENV or key.upper().startswith(DANGEROUS_ENV_PREFIXES):
            walk.add(f"{path}.{key}", "env-name", f"{key} changes which code runs; only a user may set it")


def _nice(walk: Walk, path: str, value: Any) -> None:
    if isinstance(value, int) and value < 0:
        walk.add(path, "no-privilege", f"nice {value} raises the CPU priority above normal; only a user may set it")


def _git_url(walk: Walk, path: str, value: Any) -> None:
    text = str(value)
    if text.startswith("file:") or text.startswith("/"):
        walk.add(path, "git-url", f"{text} is a repository on the node itself; only a user may name one")
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@", text):
        walk.add(path, "git-url", f"{redact_url(text)} carries credentials; only a user may write them")


def _network(walk: Walk, path: str, value: Any) -> None:
    others = [n for n in value if n != CLOCKWORK_NETWORK] if isinstance(value, list) else [value]
    if others:
        walk.add(
            path,
            "network",
            f"a completer may only join the {CLOCKWORK_NETWORK} network, not {', '.join(map(str, others))}",
        )


def _command(walk: Walk, path: str, value: Any) -> None:
    return None  # review tier: a person approves it unless the command allowlist covers it


RULES: dict[Guarded, Callable[[Walk, str, Any], None]] = {
    Guarded.PATH: _path,
    Guarded.NAME: _name,
    Guarded.MODE: _mode,
    Guarded.CONTENT: _content,
    Guarded.IMAGE: _image,
    Guarded.PORT: _port,
    Guarded.PRIVILEGED: _privileged,
    Guarded.HOST_PATH: _host_path,
    Guarded.SHELL: _shell,
    Guarded.PACKAGE: _package,
    Guarded.ENV: _env,
    Guarded.NICE: _nice,
    Guarded.GIT_URL: _git_url,
    Guarded.COMMAND: _command,
    Guarded.NETWORK: _network,
}
