"""Directory, User and Package: the basic state of a machine."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, StrictBool, model_validator

from clockwork.api.common import DeployableSpec, ResolvedCommon, Resource, ResourceStatus
from clockwork.api.types import AbsolutePath, FileMode, Guarded, PosixName, Tier, Trait
from clockwork.errors import pattern_rule

# No trailing '-': apt reads "openssh-server-" as "remove openssh-server".
PackageName = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9.+_:=~-]{0,126}[a-z0-9.+_:=~]$|^[a-z0-9]$"),
    Guarded.PACKAGE,
]


def _plain_shell(value: str) -> str:
    if ".." in value.split("/") or "//" in value or value.endswith("/"):
        raise ValueError(f"{value!r} must be a plain absolute path (no '..', '//' or trailing '/')")
    return value


Shell = Annotated[
    str,
    Field(
        pattern=pattern_rule(
            r"^/[A-Za-z0-9/_.-]+$", "must be an absolute path of letters, digits, '/', '_', '.' and '-'"
        ),
        max_length=256,
    ),
    AfterValidator(_plain_shell),
    Guarded.SHELL,
]


class DirectorySpec(DeployableSpec):
    """A directory: path, mode and ownership (optionally applied to everything inside)."""

    path: Annotated[AbsolutePath, Tier.SAFE, Trait.REMOVES] | None = Field(
        default=None, description="Absolute path of the directory."
    )
    mode: Annotated[FileMode, Tier.SAFE] | None = Field(default=None, description="Octal mode (0755).")
    owner: PosixName | None = Field(default=None, description="Owning user (left as is when unset).")
    group: PosixName | None = Field(default=None, description="Owning group (left as is when unset).")
    recursive: StrictBool | None = Field(
        default=None, description="Apply owner, group and mode to everything inside (false)."
    )
    present: StrictBool | None = Field(
        default=None, description="true: exists; false: removed with its content (true)."
    )


class Directory(Resource):
    kind: Literal["Directory"] = "Directory"
    spec: DirectorySpec
    status: ResourceStatus[DirectorySpec] | None = None


class ResolvedDirectory(ResolvedCommon):
    path: AbsolutePath
    mode: FileMode
    owner: PosixName | None = None
    group: PosixName | None = None
    recursive: bool
    present: bool


class UserSpec(DeployableSpec):
    """A local user account."""

    name: PosixName | None = Field(default=None, description="Login name.")
    home: Annotated[AbsolutePath, Tier.REVIEW] | None = Field(default=None, description="Home directory (/home/NAME).")
    shell: Annotated[Shell, Tier.REVIEW] | None = Field(default=None, description="Login shell (the system's default).")
    group: PosixName | None = Field(default=None, description="Primary group (created by the system when unset).")
    groups: list[PosixName] | None = Field(default=None, max_length=64, description="Supplementary groups.")
    system: StrictBool | None = Field(default=None, description="A system account (false).")
    present: StrictBool | None = Field(default=None, description="true: exists; false: removed (true).")


class User(Resource):
    kind: Literal["User"] = "User"
    spec: UserSpec
    status: ResourceStatus[UserSpec] | None = None


class ResolvedUser(ResolvedCommon):
    name: PosixName
    home: AbsolutePath | None = None
    shell: Shell | None = None
    group: PosixName | None = None
    groups: list[PosixName] = Field(default_factory=list)
    system: bool
    present: bool

    @model_validator(mode="after")
    def _root_is_not_ours(self) -> Self:
        if self.name == "root" and not self.present:
            raise ValueError("removing the root account is not something Clockwork will do")
        return self


PackageManager = Literal["auto", "apt", "dnf", "apk"]


class PackageSpec(DeployableSpec):
    """System packages, through the node's package manager."""

    names: Annotated[list[PackageName], Tier.REVIEW, Trait.REMOVES] | None = Field(
        default=None, min_length=1, max_length=128, description="Package names."
    )
    manager: PackageManager | None = Field(default=None, description="auto (detect), apt, dnf or apk (auto).")
    present: StrictBool | None = Field(default=None, description="true: installed; false: removed (true).")
    update: StrictBool | None = Field(default=None, description="Refresh the package index before installing (false).")


class Package(Resource):
    kind: Literal["Package"] = "Package"
    spec: PackageSpec
    status: ResourceStatus[PackageSpec] | None = None


class ResolvedPackage(ResolvedCommon):
    names: list[PackageName] = Field(min_length=1)
    manager: PackageManager
    present: bool
    update: bool

    @classmethod
    def missing_fields(cls, completed: dict[str, Any]) -> list[str]:
        return ["names"] if not completed.get("names") else super().missing_fields(completed)
