"""What the operator allows completers: the guard's policy, its findings, and the allowlists."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from clockwork import paths

DEFAULT_ALLOWED_ROOTS = paths.DEFAULT_ALLOWED_ROOTS


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


# The one network a completer may put a container on: Clockwork's own (created on demand).
CLOCKWORK_NETWORK = "clockwork"


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
