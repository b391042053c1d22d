"""The GitRepo kind: a working copy on the node at a branch, tag or commit."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StrictBool

from clockwork.api.common import DeployableSpec, ResolvedCommon, Resource, ResourceStatus
from clockwork.api.types import AbsolutePath, Guarded, PosixName, Tier, Trait

GitUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2048,
        pattern=r"^(https?://|ssh://|git://|file:///|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:)[^\s'\"`$;|&<>]+$",
        description="https://, ssh://, git://, file:///, or user@host:path.",
    ),
]
GitRef = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


def is_commit(ref: str) -> bool:
    return bool(_COMMIT.match(ref))


class GitRepoSpec(DeployableSpec):
    """A git checkout: url, ref, destination; checked every 5 minutes for the right revision."""

    url: Annotated[GitUrl, Guarded.GIT_URL, Tier.REVIEW] | None = None
    ref: Annotated[GitRef, Tier.SAFE] | None = Field(
        default=None, description="Branch, tag or commit (the remote's default branch)."
    )
    dest: Annotated[AbsolutePath, Tier.SAFE, Trait.REMOVES] | None = Field(
        default=None, description="Where the working copy lives."
    )
    pull: StrictBool | None = Field(default=None, description="Follow the branch's new commits on every apply (true).")
    depth: int | None = Field(default=None, ge=1, le=100000, description="Shallow clone of this many commits.")
    owner: PosixName | None = Field(default=None, description="Owner of the checkout (left as is when unset).")
    present: StrictBool | None = Field(default=None, description="true: checked out; false: removed (true).")


class GitRepo(Resource):
    kind: Literal["GitRepo"] = "GitRepo"
    spec: GitRepoSpec
    status: ResourceStatus[GitRepoSpec] | None = None


class ResolvedGitRepo(ResolvedCommon):
    url: GitUrl
    ref: GitRef | None = None
    dest: AbsolutePath
    pull: bool
    depth: int | None = None
    owner: PosixName | None = None
    present: bool
