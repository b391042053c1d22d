"""The guard: the policy every completed value meets before anything is compiled.

AI proposes, the core decides. Model validation (patterns, ranges, unknown
fields) already applies to the whole completed spec; the guard is the policy a
schema cannot carry, for every value a *completer* supplied (user-written values
are the user's decision; defaults are ours). It has two answers:

- :func:`check` — values no completer may propose at all, each a
  :class:`Violation` naming the field and the rule (nothing is applied);
- :func:`review` — values of ``review``-tier fields (what runs, what is
  installed, who an account is) that a person must approve before apply, unless
  an allowlist the operator configured covers them.

Which rule applies to a field comes from markers on the model's types
(:class:`~clockwork.api.types.Guarded`, :class:`~clockwork.api.types.Tier`,
:class:`~clockwork.api.types.Trait`), so a new kind is guarded by declaring its
types. Paths are judged by :mod:`clockwork.paths`, here as text and again on the
node by the claim operation.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from clockwork import paths
from clockwork.api import fields
from clockwork.api.types import Guarded, Tier, Trait
from clockwork.completion import catalogue
from clockwork.text import redact_url

DEFAULT_ALLOWED_ROOTS = paths.DEFAULT_ALLOWED_ROOTS

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


@dataclass(frozen=True)
class GuardPolicy:
    allowed_roots: tuple[str, ...] = DEFAULT_ALLOWED_ROOTS
    allow_privileged_ports: bool = False
    max_content_bytes: int = 64 * 1024
    # Review-tier values these cover need no approval (CW_ALLOWED_REGISTRIES, ...).
    allowed_registries: tuple[str, ...] = ()
    allowed_git_hosts: tuple[str, ...] = ()
    allowed_commands: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Violation:
    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"spec.{self.field}: {self.message} (rule: {self.rule})"


@dataclass(frozen=True)
class ReviewItem:
    """A completer's value of a review-tier field that waits for a person."""

    field: str
    shown: str
    reason: str
    # Canonical JSON of the value: what an approval covers (never shown; may be secret).
    value: str = ""

    def __str__(self) -> str:
        return f"spec.{self.field} = {self.shown} ({self.reason})"


@dataclass
class _Walk:
    policy: GuardPolicy
    proposed: set[str]
    found: list[Violation] = field(default_factory=list)

    def add(self, path: str, rule: str, message: str) -> None:
        self.found.append(Violation(path, rule, message))


def check(
    spec_model: type[BaseModel], completed: dict[str, Any], proposed: Iterable[str], policy: GuardPolicy
) -> list[Violation]:
    """Violations among the ``proposed`` (dotted wire paths a completer filled)."""
    walk = _Walk(policy, set(proposed))
    allowed = set(fields.completable(spec_model))
    for path in sorted(walk.proposed):
        if path.split(".", 1)[0] not in allowed:
            walk.add(path, "not-completable", "completers may not set this field")
    _walk_model(walk, spec_model, completed, "")
    _removal_targets(walk, spec_model, completed)
    _joined_paths(walk, spec_model, completed)
    _accounts(walk, spec_model, completed)
    return walk.found


def _top(walk: _Walk) -> set[str]:
    return {p.split(".", 1)[0].split("[", 1)[0] for p in walk.proposed}


def _removal_targets(walk: _Walk, spec_model: type[BaseModel], completed: dict[str, Any]) -> None:
    if completed.get("present") is not False:
        return
    for name in fields.with_trait(spec_model, Trait.REMOVES):
        if name in _top(walk):
            walk.add(
                name,
                "removal-target",
                "a completer never chooses what is removed (present: false); write this field yourself",
            )


def _joined_paths(walk: _Walk, spec_model: type[BaseModel], completed: dict[str, Any]) -> None:
    """A path put together from a directory and a name (File) is judged whole."""
    if "directory" not in spec_model.model_fields or "name" not in spec_model.model_fields:
        return
    directory, name = completed.get("directory"), completed.get("name")
    top = _top(walk)
    if not isinstance(directory, str) or not isinstance(name, str) or not {"directory", "name"} & top:
        return
    joined = posixpath.join(directory, name)
    roots = walk.policy.allowed_roots
    if "directory" not in top:
        # The user chose the directory: the completer's name must stay inside it.
        roots = (*roots, directory.rstrip("/") or "/")
    finding = paths.judge(joined, roots)
    if finding is not None:
        where = "name" if "name" in top else "directory"
        walk.add(where, finding.rule, f"directory + name = {finding.message}")


def _accounts(walk: _Walk, spec_model: type[BaseModel], completed: dict[str, Any]) -> None:
    """Who root is, is not a completer's to say."""
    if "home" in spec_model.model_fields and completed.get("name") == "root":
        for name in ("home", "shell"):
            if name in _top(walk):
                walk.add(name, "account-root", "a completer may not change the root account; set it yourself")


def _is_proposed(walk: _Walk, path: str) -> bool:
    # A proposed list or object covers everything inside it.
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in walk.proposed)


def _walk_model(walk: _Walk, model: type[BaseModel], values: dict[str, Any], prefix: str) -> None:
    hints = fields.hints(model)
    for name, info in model.model_fields.items():
        wire = info.alias or name
        if wire not in values or values[wire] is None:
            continue
        _walk_value(walk, hints[name], values[wire], f"{prefix}{wire}")


def _walk_value(walk: _Walk, hint: Any, value: Any, path: str) -> None:
    markers, inner = fields.unwrap(hint)
    if markers and _is_proposed(walk, path):
        for marker in markers:
            if isinstance(marker, Guarded):
                RULES[marker](walk, path, value)
    for candidate in inner:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel) and isinstance(value, dict):
            _walk_model(walk, candidate, value, path + ".")
        elif typing.get_origin(candidate) is list and isinstance(value, list):
            (item_hint,) = typing.get_args(candidate) or (Any,)
            for index, item in enumerate(value):
                _walk_value(walk, item_hint, item, f"{path}[{index}]")
        elif typing.get_origin(candidate) is dict and isinstance(value, dict):
            _, item_hint = typing.get_args(candidate) or (Any, Any)
            for key, item in value.items():
                _walk_value(walk, item_hint, item, f"{path}.{key}")


# Values remediation never changes without approval, beyond the review tier: they
# decide what a container can reach, not merely how a failing thing is configured.
SENSITIVE = {Guarded.IMAGE, Guarded.PORT, Guarded.HOST_PATH, Guarded.PRIVILEGED}


def sensitive_fields(spec_model: type[BaseModel]) -> set[str]:
    """Completable fields remediation keeps as they are: the ``review`` tier, and
    those holding (anywhere inside) a sensitive value. Remediation changes only ``safe``."""
    hints = fields.hints(spec_model)
    tiers = fields.tiers(spec_model)
    return {
        wire
        for name, info in spec_model.model_fields.items()
        if (tier := tiers[wire := info.alias or name]) is Tier.REVIEW
        or (tier is Tier.SAFE and _holds(hints[name], SENSITIVE, depth=0))
    }


def _holds(hint: Any, wanted: set[Guarded], depth: int) -> bool:
    markers, inner = fields.unwrap(hint)
    if wanted & set(markers):
        return True
    if depth > 6:
        return False
    for candidate in inner:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            sub = fields.hints(candidate)
            if any(_holds(sub[n], wanted, depth + 1) for n in candidate.model_fields):
                return True
        elif typing.get_origin(candidate) in (list, dict) and any(
            _holds(arg, wanted, depth + 1) for arg in typing.get_args(candidate)
        ):
            return True
    return False


# --- review --------------------------------------------------------------------------------


def review(
    spec_model: type[BaseModel], completed: dict[str, Any], proposed: Iterable[str], policy: GuardPolicy
) -> list[ReviewItem]:
    """Review-tier values a completer proposed that no allowlist covers."""
    top = {p.split(".", 1)[0].split("[", 1)[0] for p in proposed}
    tiers = fields.tiers(spec_model)
    traits = fields.traits(spec_model)
    hints = fields.hints(spec_model)
    items: list[ReviewItem] = []
    for name, info in spec_model.model_fields.items():
        wire = info.alias or name
        value = completed.get(wire)
        if wire not in top or tiers[wire] is not Tier.REVIEW or value is None:
            continue
        markers, _ = fields.unwrap(hints[name])
        if _allowlisted(markers, value, policy):
            continue
        secret = Trait.SECRET in traits[wire]
        items.append(
            ReviewItem(
                field=wire,
                shown=_shown(value, secret),
                reason=_why_review(markers, value, policy),
                value=json.dumps(value, sort_keys=True, separators=(",", ":")),
            )
        )
    return items


def review_hash(items: list[ReviewItem]) -> str | None:
    """What an approval of these values is filed under (None: nothing to review)."""
    if not items:
        return None
    canonical = json.dumps(sorted((i.field, i.value) for i in items), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _shown(value: Any, secret: bool) -> str:
    if secret and isinstance(value, dict):
        return "{" + ", ".join(sorted(str(k) for k in value)) + "} (values not shown)"
    if secret:
        return "(not shown)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = redact_url(text) if isinstance(value, str) else text
    return text if len(text) <= 200 else text[:199] + "…"


def _allowlisted(markers: list[Any], value: Any, policy: GuardPolicy) -> bool:
    if Guarded.IMAGE in markers and isinstance(value, str):
        return value in catalogue.IMAGES or image_allowed(value, policy.allowed_registries)
    if Guarded.GIT_URL in markers and isinstance(value, str):
        return git_host_allowed(value, policy.allowed_git_hosts)
    if Guarded.COMMAND in markers and isinstance(value, str):
        return value in policy.allowed_commands
    return False


def _why_review(markers: list[Any], value: Any, policy: GuardPolicy) -> str:
    if Guarded.IMAGE in markers:
        return f"image from {image_repository(str(value)).split('/', 1)[0]}, not in CW_ALLOWED_REGISTRIES"
    if Guarded.GIT_URL in markers:
        return f"repository on {git_host(str(value)) or 'an unknown host'}, not in CW_ALLOWED_GIT_HOSTS"
    if Guarded.COMMAND in markers:
        return "a command that runs on the node, not in CW_ALLOWED_COMMANDS_FILE"
    return "decides what runs or who an account is"


def image_repository(image: str) -> str:
    """``registry/path`` of an image reference, Docker Hub spelled out (nginx -> docker.io/library/nginx)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    first, _, rest = name.partition("/")
    if not rest:
        return f"docker.io/library/{first}"
    if "." in first or ":" in first or first == "localhost":
        return name
    return f"docker.io/{name}"


def image_allowed(image: str, allowed: Iterable[str]) -> bool:
    repository = image_repository(image)
    return any(repository == a.rstrip("/") or repository.startswith(a.rstrip("/") + "/") for a in allowed)


def git_host(url: str) -> str | None:
    """``host/path`` of a repository URL (https, ssh, git, or scp-like user@host:path)."""
    if "://" in url:
        parts = urlsplit(url)
        return f"{parts.hostname or ''}{parts.path}".rstrip("/") or None
    match = re.match(r"^[A-Za-z0-9._-]+@([A-Za-z0-9.-]+):(.*)$", url)
    return f"{match.group(1)}/{match.group(2).lstrip('/')}".rstrip("/") if match else None


def git_host_allowed(url: str, allowed: Iterable[str]) -> bool:
    if url.startswith("file:"):
        return False
    where = git_host(url)
    if where is None:
        return False
    where = where.lower()
    return any(where == a.lower().rstrip("/") or where.startswith(a.lower().rstrip("/") + "/") for a in allowed)


# --- rules -------------------------------------------------------------------------------


def _path(walk: _Walk, path: str, value: Any) -> None:
    finding = paths.judge(str(value), walk.policy.allowed_roots)
    if finding is not None:
        walk.add(path, finding.rule, finding.message)


def _name(walk: _Walk, path: str, value: Any) -> None:
    if not _SAFE_NAME.match(str(value)):
        walk.add(path, "safe-name", f"{value!r} may only use letters, digits and . _ - @ +")


def _mode(walk: _Walk, path: str, value: Any) -> None:
    try:
        bits = int(str(value), 8)
    except ValueError:
        walk.add(path, "file-mode", f"{value!r} is not an octal mode")
        return
    if bits & 0o7000:
        walk.add(path, "file-mode", f"{value} sets setuid/setgid/sticky bits")
    elif bits & 0o002:
        walk.add(path, "file-mode", f"{value} is world-writable")


def _content(walk: _Walk, path: str, value: Any) -> None:
    size = len(str(value).encode())
    if size > walk.policy.max_content_bytes:
        walk.add(path, "content-size", f"{size} bytes is more than {walk.policy.max_content_bytes} allowed")


def _image(walk: _Walk, path: str, value: Any) -> None:
    if not _IMAGE.match(str(value)) or len(str(value)) > 255:
        walk.add(path, "image-reference", f"{value!r} is not a well-formed image reference")


def _port(walk: _Walk, path: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        walk.add(path, "port-range", f"{value!r} is not a port number (1-65535)")
    elif value == 22:
        walk.add(path, "ssh-port", "22 would take over the node's SSH port")
    elif value < 1024 and not walk.policy.allow_privileged_ports:
        walk.add(path, "privileged-port", f"{value} is a privileged port (below 1024)")


def _privileged(walk: _Walk, path: str, value: Any) -> None:
    if value is True:
        walk.add(path, "no-privilege", "completers may not grant privilege; set it yourself if you mean it")


def _host_path(walk: _Walk, path: str, value: Any) -> None:
    if value:
        walk.add(path, "no-host-mount", "completers may not mount host paths; set it yourself if you mean it")


def _shell(walk: _Walk, path: str, value: Any) -> None:
    if str(value) not in KNOWN_SHELLS:
        walk.add(path, "known-shell", f"{value!r} is not one of the usual shells ({', '.join(sorted(KNOWN_SHELLS))})")


def _package(walk: _Walk, path: str, value: Any) -> None:
    if not _PACKAGE.match(str(value)):
        walk.add(path, "package-name", f"{value!r} is not a plain package name (no versions, no trailing '-')")


def _env(walk: _Walk, path: str, value: Any) -> None:
    if not isinstance(value, dict):
        return
    for key in sorted(value):
        if key in DANGEROUS_ENV or key.upper().startswith(DANGEROUS_ENV_PREFIXES):
            walk.add(f"{path}.{key}", "env-name", f"{key} changes which code runs; only a user may set it")


def _nice(walk: _Walk, path: str, value: Any) -> None:
    if isinstance(value, int) and value < 0:
        walk.add(path, "no-privilege", f"nice {value} raises the CPU priority above normal; only a user may set it")


def _git_url(walk: _Walk, path: str, value: Any) -> None:
    text = str(value)
    if text.startswith("file:") or text.startswith("/"):
        walk.add(path, "git-url", f"{text} is a repository on the node itself; only a user may name one")
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@", text):
        walk.add(path, "git-url", f"{redact_url(text)} carries credentials; only a user may write them")


# The one network a completer may put a container on: Clockwork's own (created on demand).
CLOCKWORK_NETWORK = "clockwork"


def _network(walk: _Walk, path: str, value: Any) -> None:
    others = [n for n in value if n != CLOCKWORK_NETWORK] if isinstance(value, list) else [value]
    if others:
        walk.add(
            path,
            "network",
            f"a completer may only join the {CLOCKWORK_NETWORK} network, not {', '.join(map(str, others))}",
        )


def _command(walk: _Walk, path: str, value: Any) -> None:
    return None  # review tier: a person approves it unless the command allowlist covers it


RULES: dict[Guarded, Callable[[_Walk, str, Any], None]] = {
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
