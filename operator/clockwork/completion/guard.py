"""The guard: strict rules every completed value passes before anything is compiled.

AI proposes, the core decides. Model validation (patterns, ranges, unknown
fields) already applies to the whole completed spec; the guard adds the policy a
schema cannot carry, for every value a *completer* supplied (user-written values
are the user's decision; defaults are ours):

- paths stay under the allowed roots and away from credentials and system trees;
- names carry no shell metacharacters; image references are well-formed;
- modes are neither world-writable nor setuid/setgid/sticky;
- ports are in range and not privileged (22 never) unless policy allows;
- completers never switch on privilege or mount host paths;
- free text is size-limited; only fields the kind lets completers fill are filled.

Which rule applies to a field comes from :class:`clockwork.api.types.Guarded`
markers in the model's type hints, so a new kind is guarded by declaring its types.
"""

from __future__ import annotations

import functools
import posixpath
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from clockwork.api.types import Guarded

DEFAULT_ALLOWED_ROOTS = ("/srv", "/opt", "/var/lib", "/var/log", "/etc/clockwork", "/tmp", "/home")

# Never a completer's to write, whatever the allowed roots say.
SENSITIVE_COMPONENTS = {".ssh", ".gnupg", ".kube", ".aws", ".docker"}
SENSITIVE_NAMES = {"authorized_keys", "shadow", "gshadow", "sudoers", "passwd", "group"}
SYSTEM_TREES = ("/proc", "/sys", "/dev", "/boot", "/root", "/etc/sudoers.d", "/etc/ssh", "/etc/systemd")

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,252}$")
_IMAGE = re.compile(
    r"^(?:(?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::[0-9]{1,5})?/)?"  # registry
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"  # path
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"  # tag
    r"(?:@sha256:[a-f0-9]{64})?$"  # digest
)


@dataclass(frozen=True)
class GuardPolicy:
    allowed_roots: tuple[str, ...] = DEFAULT_ALLOWED_ROOTS
    allow_privileged_ports: bool = False
    max_content_bytes: int = 64 * 1024


@dataclass(frozen=True)
class Violation:
    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"spec.{self.field}: {self.message} (rule: {self.rule})"


@dataclass
class _Walk:
    policy: GuardPolicy
    proposed: set[str]
    found: list[Violation] = field(default_factory=list)

    def add(self, path: str, rule: str, message: str) -> None:
        self.found.append(Violation(path, rule, message))


def check(
    spec_model: type[BaseModel],
    completed: dict[str, Any],
    proposed: Iterable[str],
    completable: Iterable[str],
    policy: GuardPolicy,
) -> list[Violation]:
    """Violations among the ``proposed`` (dotted wire paths a completer filled)."""
    walk = _Walk(policy, set(proposed))
    allowed = set(completable)
    for path in sorted(walk.proposed):
        if path.split(".", 1)[0] not in allowed:
            walk.add(path, "not-completable", "completers may not set this field")
    _walk_model(walk, spec_model, completed, "")
    return walk.found


def _is_proposed(walk: _Walk, path: str) -> bool:
    # A proposed list or object covers everything inside it.
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in walk.proposed)


@functools.cache
def _hints(model: type[BaseModel]) -> dict[str, Any]:
    # Resolving a model's annotations is slow (string forward references) and the
    # models do not change: once per class, not once per field per pass.
    return typing.get_type_hints(model, include_extras=True)


def _walk_model(walk: _Walk, model: type[BaseModel], values: dict[str, Any], prefix: str) -> None:
    hints = _hints(model)
    for name, info in model.model_fields.items():
        wire = info.alias or name
        if wire not in values or values[wire] is None:
            continue
        _walk_value(walk, hints[name], values[wire], f"{prefix}{wire}")


def _walk_value(walk: _Walk, hint: Any, value: Any, path: str) -> None:
    markers, inner = _unwrap(hint)
    if markers and _is_proposed(walk, path):
        for marker in markers:
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


def _unwrap(hint: Any) -> tuple[list[Guarded], list[Any]]:
    """Guard markers on a hint, and the concrete types it may hold (Optional/Union opened)."""
    markers: list[Guarded] = []
    if typing.get_origin(hint) is typing.Annotated:
        base, *extras = typing.get_args(hint)
        markers += [m for m in extras if isinstance(m, Guarded)]
        more, inner = _unwrap(base)
        return markers + more, inner
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options: list[Any] = []
        for arg in typing.get_args(hint):
            if arg is type(None):
                continue
            more, sub = _unwrap(arg)
            markers += more
            options += sub
        return markers, options
    return markers, [hint]


# Values remediation never changes without approval: they decide what runs and
# what it can reach, not merely how a failing thing is configured.
SENSITIVE = {Guarded.IMAGE, Guarded.PORT, Guarded.HOST_PATH, Guarded.PRIVILEGED}


def sensitive_fields(spec_model: type[BaseModel]) -> set[str]:
    """Top-level wire names of fields holding (anywhere inside) a sensitive value."""
    hints = _hints(spec_model)
    return {
        info.alias or name for name, info in spec_model.model_fields.items() if _holds(hints[name], SENSITIVE, depth=0)
    }


def _holds(hint: Any, wanted: set[Guarded], depth: int) -> bool:
    markers, inner = _unwrap(hint)
    if wanted & set(markers):
        return True
    if depth > 6:
        return False
    for candidate in inner:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            sub = _hints(candidate)
            if any(_holds(sub[n], wanted, depth + 1) for n in candidate.model_fields):
                return True
        elif typing.get_origin(candidate) in (list, dict) and any(
            _holds(arg, wanted, depth + 1) for arg in typing.get_args(candidate)
        ):
            return True
    return False


# --- rules -------------------------------------------------------------------------------


def _path(walk: _Walk, path: str, value: Any) -> None:
    text = str(value)
    normal = posixpath.normpath(text)
    if normal != text.rstrip("/") or not text.startswith("/"):
        walk.add(path, "normalised-path", f"{text!r} is not a plain absolute path")
        return
    parts = normal.split("/")
    if SENSITIVE_COMPONENTS & set(parts) or parts[-1] in SENSITIVE_NAMES:
        walk.add(path, "sensitive-path", f"{text} touches credentials or accounts")
        return
    if any(normal == tree or normal.startswith(tree + "/") for tree in SYSTEM_TREES):
        walk.add(path, "sensitive-path", f"{text} is inside a system tree")
        return
    roots = walk.policy.allowed_roots
    if not any(normal == root or normal.startswith(root.rstrip("/") + "/") for root in roots):
        walk.add(path, "allowed-roots", f"{text} is outside the allowed roots ({', '.join(roots)})")


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


RULES: dict[Guarded, Callable[[_Walk, str, Any], None]] = {
    Guarded.PATH: _path,
    Guarded.NAME: _name,
    Guarded.MODE: _mode,
    Guarded.CONTENT: _content,
    Guarded.IMAGE: _image,
    Guarded.PORT: _port,
    Guarded.PRIVILEGED: _privileged,
    Guarded.HOST_PATH: _host_path,
}
