"""Constrained value types reused across kinds (paths, modes, POSIX names).

Each type carries both a JSON-schema constraint (so the CRD, and therefore the
API server, rejects obvious mistakes) and a Python validator for the rules a
regular expression cannot say well (no ``..`` components).
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from clockwork.errors import pattern_rule
from clockwork.text import env_value, single_line

MAX_PATH = 4096


class Guarded(Enum):
    """What kind of value a field holds, for the completion guard.

    Pydantic keeps these markers in a field's metadata without acting on them;
    :mod:`clockwork.completion.guard` finds them and applies its rules to every
    value a completer proposed (user-written values are the user's decision).
    """

    PATH = "path"  # absolute path on a target: allowed roots, sensitive places
    NAME = "name"  # identifier: no shell metacharacters
    MODE = "mode"  # permission bits: no world-writable, no setuid/setgid
    CONTENT = "content"  # free text written to a target: size-limited
    IMAGE = "image"  # container image reference: well-formed
    PORT = "port"  # port number: in range, not privileged unless allowed
    PRIVILEGED = "privileged"  # a switch that grants privilege: completers may not set it
    HOST_PATH = "hostPath"  # a host path mounted into a container: completers may not add one
    SHELL = "shell"  # a login shell: one of the usual shells, no '..'
    PACKAGE = "package"  # a package name: no apt suffixes that turn an install into a removal
    ENV = "env"  # environment variables: no names that load code (LD_PRELOAD, PYTHONPATH, ...)
    NICE = "nice"  # CPU priority: completers may lower it, never raise it (negative nice)
    GIT_URL = "gitUrl"  # a repository: no local files, no credentials in the URL
    COMMAND = "command"  # a program to run: allowed only from the command allowlist without review
    NETWORK = "network"  # container networks: completers may join only Clockwork's own network


class Tier(Enum):
    """Who may set a field: declared on the spec types, one per completable field.

    A field without a tier is ``never``: only the user writes it (and defaults fill it).
    The tiers are documented per field in docs/resources.md (generated).
    """

    SAFE = "safe"  # a completer may fill it; remediation may change it
    REVIEW = "review"  # a completer may propose it; applying waits for a person's approval
    NEVER = "never"  # only a user writes it


class Trait(Enum):
    """What else a field's value means, beyond its tier."""

    # Names what `present: false` removes: then no completer may choose it, whatever its tier.
    REMOVES = "removes"
    # Never shown to a model (names and shapes only): environment values, file content.
    SECRET = "secret"


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not an absolute path (it must start with '/')")
    single_line(value)  # no control characters: paths are written into unit files and commands
    if ".." in value.split("/"):
        raise ValueError(f"{value!r} must not contain '..' components")
    return value


def _file_name(value: str) -> str:
    single_line(value)
    if "/" in value or value in (".", ".."):
        raise ValueError(f"{value!r} is not a plain file name (no '/', not '.' or '..')")
    return value


def _mode_is_text(value: Any) -> Any:
    # YAML reads an unquoted 0644 as the integer 420: say so instead of a bare type error.
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f'must be a quoted octal string such as "0644"; got the number {value} '
            "(YAML reads unquoted 0644 as a number, so quote it)"
        )
    return value


AbsolutePath = Annotated[
    str,
    Field(
        min_length=1, max_length=MAX_PATH, pattern=pattern_rule(r"^/", "must be an absolute path (starting with '/')")
    ),
    AfterValidator(_absolute_path),
    Guarded.PATH,
]

FileName = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_file_name), Guarded.NAME]

FileMode = Annotated[
    str,
    Field(
        pattern=pattern_rule(r"^[0-7]{3,4}$", 'must be octal permission bits such as "0644"'),
        description='Octal permission bits, e.g. "0644".',
    ),
    BeforeValidator(_mode_is_text),
    Guarded.MODE,
]

PosixName = Annotated[
    str,
    Field(
        pattern=pattern_rule(
            r"^([a-z_][a-z0-9_-]{0,31}|[0-9]{1,10})$",
            "must be a user or group name (a-z, 0-9, '_' and '-', at most 32, not starting with a digit) "
            "or a numeric id",
        ),
        description="A user or group name (or numeric id).",
    ),
    Guarded.NAME,
]


def normalise_mode(mode: str) -> str:
    """Four-digit form of an octal mode: "644" -> "0644"."""
    return mode.zfill(4)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")


def _env_names(env: dict[str, str]) -> dict[str, str]:
    bad = [k for k in env if not _ENV_NAME.match(k)]
    if bad:
        raise ValueError(f"environment variable names must match [A-Za-z_][A-Za-z0-9_]*: {', '.join(bad)}")
    return env


# One line of a file another program reads (known_hosts, a unit's Description=): no controls but tab.
Line = Annotated[str, AfterValidator(single_line)]
# An environment variable's value: line breaks and tabs allowed (each renderer escapes them), no
# other control characters.
EnvValue = Annotated[str, AfterValidator(env_value)]

# A CRD schema cannot constrain map keys, so names are checked by the model.
EnvMap = Annotated[dict[str, EnvValue], AfterValidator(_env_names), Trait.SECRET]
