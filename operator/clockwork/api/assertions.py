"""Assertions: typed checks that run on a target node through the runner.

The same models serve a kind's own health (a File checks fileExists,
filePermissions and fileContent) and the user's ``spec.health.assertions``.
Each names what it checks; :mod:`clockwork.health.checks` turns it into probes and
judges what comes back.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal, Self, get_args

from pydantic import Field, StrictBool, model_validator

from clockwork.api.types import AbsolutePath, FileMode, PosixName
from clockwork.cel import CelRule
from clockwork.model import CWModel

Regex = Annotated[str, Field(min_length=1, max_length=1024)]
Port = Annotated[int, Field(ge=1, le=65535)]
Percent = Annotated[float, Field(gt=0, le=100)]
ContainerRuntime = Literal["docker", "podman"]


def _check_regex(value: str | None, field: str) -> None:
    if value is None:
        return
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{field} is not a valid regular expression: {exc}") from exc


CONTAINER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
# One text for every variant's path: the CRD merges the variants into one object.
PATH = "Absolute path of the file (or directory) checked; for logContains, the log file to search."


class _Base(CWModel):
    name: str | None = Field(default=None, max_length=63, description="Name shown in results.")


class HttpAssertion(_Base):
    """An HTTP GET from the target node answers as expected, in time."""

    type: Literal["http"] = Field(description="The kind of check; which other fields apply depends on it.")
    url: str = Field(pattern=r"^https?://[^\s'\"`$;|&<>]+$", max_length=2048, description="URL to GET.")
    expect_status: int | None = Field(default=None, ge=100, le=599, description="Expected status code (200).")
    max_response_ms: int | None = Field(default=None, ge=1, le=600000, description="Slowest acceptable answer.")
    body_matches: Regex | None = Field(default=None, description="Regular expression the body must match.")
    timeout_seconds: int | None = Field(default=None, ge=1, le=300, description="Give up after (10).")

    @model_validator(mode="after")
    def _regex(self) -> Self:
        _check_regex(self.body_matches, "bodyMatches")
        return self


class PortAssertion(_Base):
    """A port on the target node (or reachable from it) accepts connections — or does not."""

    type: Literal["port"]
    port: Port = Field(description="The port to connect to.")
    host: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.:-]+$", max_length=253, description="(127.0.0.1)")
    protocol: Literal["tcp", "udp"] | None = Field(default=None, description="tcp (default) or udp.")
    open: StrictBool | None = Field(default=None, description="true: must accept (default); false: must not.")


class ContainerRunningAssertion(_Base):
    type: Literal["containerRunning"]
    container: str = Field(pattern=CONTAINER_NAME, max_length=253, description="Name of the container.")
    runtime: ContainerRuntime | None = Field(default=None, description="Container runtime: docker or podman.")


class ContainerHealthyAssertion(_Base):
    """The container's own HEALTHCHECK reports healthy."""

    type: Literal["containerHealthy"]
    container: str = Field(pattern=CONTAINER_NAME, max_length=253, description="Name of the container.")
    runtime: ContainerRuntime | None = Field(default=None, description="Container runtime: docker or podman.")


ONE_LOG_SOURCE = CelRule(
    rule="(has(self.container) ? 1 : 0) + (has(self.unit) ? 1 : 0) + (has(self.path) ? 1 : 0) == 1",
    message="set exactly one of container, unit or path",
)
ONE_CONTENT_CHECK = CelRule(
    rule="has(self.matches) != has(self.sha256)", message="set exactly one of matches or sha256"
)


class LogContainsAssertion(_Base):
    """A log (a container's, a systemd unit's, or a file) has a matching line among its last lines."""

    __cel_rules__: ClassVar[tuple[CelRule, ...]] = (ONE_LOG_SOURCE,)

    type: Literal["logContains"]
    pattern: Regex = Field(description="Extended regular expression (grep -E).")
    container: str | None = Field(
        default=None, pattern=CONTAINER_NAME, max_length=253, description="Name of the container."
    )
    unit: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9@_.:-]+$", max_length=253, description="systemd unit, its journal searched."
    )
    path: AbsolutePath | None = Field(default=None, description=PATH)
    lines: int | None = Field(default=None, ge=1, le=100000, description="How many last lines to search (200).")
    runtime: ContainerRuntime | None = Field(default=None, description="Container runtime: docker or podman.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        ONE_LOG_SOURCE.check(len([s for s in (self.container, self.unit, self.path) if s is not None]) != 1)
        return self


FileKind = Literal["file", "directory"]


class FileExistsAssertion(_Base):
    type: Literal["fileExists"]
    path: AbsolutePath = Field(description=PATH)
    present: StrictBool | None = Field(default=None, description="true: must exist (default); false: must be absent.")
    kind: FileKind | None = Field(default=None, description="file (default) or directory.")


class FilePermissionsAssertion(_Base):
    type: Literal["filePermissions"]
    path: AbsolutePath = Field(description=PATH)
    kind: FileKind | None = Field(default=None, description="file (default) or directory.")
    mode: FileMode | None = None
    owner: PosixName | None = None
    group: PosixName | None = None


class FileSizeAssertion(_Base):
    type: Literal["fileSize"]
    path: AbsolutePath = Field(description=PATH)
    min_bytes: int | None = Field(default=None, ge=0, description="Smallest acceptable size in bytes.")
    max_bytes: int | None = Field(default=None, ge=0, description="Largest acceptable size in bytes.")


class FileContentAssertion(_Base):
    """The file matches a regular expression, or has exactly this sha256."""

    __cel_rules__: ClassVar[tuple[CelRule, ...]] = (ONE_CONTENT_CHECK,)

    type: Literal["fileContent"]
    path: AbsolutePath = Field(description=PATH)
    matches: Regex | None = Field(default=None, description="Extended regular expression (grep -E).")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="Expected sha256 of the content.")

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        ONE_CONTENT_CHECK.check((self.matches is None) == (self.sha256 is None))
        return self


class ProcessRunningAssertion(_Base):
    type: Literal["processRunning"]
    pattern: Regex = Field(description="Extended regular expression on the full command line.")


class ProcessNotRunningAssertion(_Base):
    type: Literal["processNotRunning"]
    pattern: Regex = Field(description="Extended regular expression on the full command line.")


class MemoryUsageAssertion(_Base):
    type: Literal["memoryUsage"]
    max_percent: Percent = Field(description="Highest acceptable share of memory in use.")


class CpuUsageAssertion(_Base):
    type: Literal["cpuUsage"]
    max_percent: Percent = Field(description="Highest acceptable CPU busy share over a one-second sample.")


class DiskUsageAssertion(_Base):
    type: Literal["diskUsage"]
    path: AbsolutePath | None = Field(default=None, description="A path on the filesystem to check (/).")
    max_percent: Percent = Field(description="Highest acceptable share of the filesystem in use.")


class CommandAssertion(_Base):
    """Run a shell command on the target; healthy when it exits as expected."""

    type: Literal["command"]
    command: str = Field(min_length=1, max_length=4096, description="Shell command to run.")
    expect_exit_code: int | None = Field(default=None, ge=0, le=255, description="Exit code that means healthy (0).")
    output_matches: str | None = Field(
        default=None, max_length=1024, description="Regular expression the output must match."
    )
    timeout_seconds: int | None = Field(default=None, ge=1, le=600, description="Time limit for the command (30).")

    @model_validator(mode="after")
    def _regex_compiles(self) -> Self:
        _check_regex(self.output_matches, "outputMatches")
        return self


ASSERTION_TYPES: tuple[type[CWModel], ...] = (
    HttpAssertion,
    PortAssertion,
    ContainerRunningAssertion,
    ContainerHealthyAssertion,
    LogContainsAssertion,
    FileExistsAssertion,
    FilePermissionsAssertion,
    FileSizeAssertion,
    FileContentAssertion,
    ProcessRunningAssertion,
    ProcessNotRunningAssertion,
    MemoryUsageAssertion,
    CpuUsageAssertion,
    DiskUsageAssertion,
    CommandAssertion,
)

Assertion = Annotated[
    HttpAssertion
    | PortAssertion
    | ContainerRunningAssertion
    | ContainerHealthyAssertion
    | LogContainsAssertion
    | FileExistsAssertion
    | FilePermissionsAssertion
    | FileSizeAssertion
    | FileContentAssertion
    | ProcessRunningAssertion
    | ProcessNotRunningAssertion
    | MemoryUsageAssertion
    | CpuUsageAssertion
    | DiskUsageAssertion
    | CommandAssertion,
    Field(discriminator="type"),
]

# Discriminator values of tagged unions, dropped from error locations shown to people.
ASSERTION_TAGS: frozenset[str] = frozenset(
    tag for cls in ASSERTION_TYPES for tag in get_args(cls.model_fields["type"].annotation)
)
