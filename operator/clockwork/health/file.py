"""Health of a File: present (or absent) with the declared content, mode and owner."""

from __future__ import annotations

import hashlib

from clockwork.api import assertions as a
from clockwork.api.assertions import Assertion
from clockwork.api.file import ResolvedFile


def content_sha256(file: ResolvedFile) -> str:
    return hashlib.sha256((file.content or "").encode()).hexdigest()


def assertions(file: ResolvedFile) -> list[Assertion]:
    if not file.present:
        return [a.FileExistsAssertion(type="fileExists", name="absent", path=file.path, present=False)]
    return [
        a.FileExistsAssertion(type="fileExists", name="exists", path=file.path),
        a.FilePermissionsAssertion(
            type="filePermissions", name="permissions", path=file.path, mode=file.mode, owner=file.owner,
            group=file.group,
        ),
        a.FileContentAssertion(type="fileContent", name="content", path=file.path, sha256=content_sha256(file)),
    ]  # fmt: skip
