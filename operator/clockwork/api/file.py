"""The File kind: one file on the target, with content, mode and ownership."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, JsonValue, StrictBool, model_validator

from clockwork import templates
from clockwork.api.common import DeployableSpec, ResolvedCommon, Resource, ResourceStatus
from clockwork.api.types import AbsolutePath, FileMode, FileName, Guarded, PosixName, Tier, Trait
from clockwork.cel import CelRule

# A File's content lives in its spec and again in status.completed; Kubernetes
# objects are capped near 1.5 MiB by etcd, so one copy may take at most 256 KiB.
MAX_FILE_CONTENT = 256 * 1024


def render(template: str, variables: dict[str, Any]) -> str:
    """Render a Jinja2 template in a bounded sandbox; an undefined variable is an error."""
    return templates.render(template, variables)


PATH_OR_DIRECTORY = CelRule(
    rule="!(has(self.path) && (has(self.directory) || has(self.name)))",
    message="set either path, or directory and name, not both",
)
CONTENT_OR_TEMPLATE = CelRule(
    rule="!(has(self.content) && has(self.template))", message="set either content or template, not both"
)
VARIABLES_FOR_TEMPLATE = CelRule(
    rule="!has(self.variables) || has(self.template)", message="variables are for template"
)


class FileSpec(DeployableSpec):
    """A file: give path, or directory and name; the rest can be completed."""

    __cel_rules__: ClassVar[tuple[CelRule, ...]] = (PATH_OR_DIRECTORY, CONTENT_OR_TEMPLATE, VARIABLES_FOR_TEMPLATE)

    path: Annotated[AbsolutePath, Tier.SAFE, Trait.REMOVES] | None = Field(
        default=None, description="Absolute path of the file."
    )
    directory: Annotated[AbsolutePath, Tier.SAFE, Trait.REMOVES] | None = Field(
        default=None, description="Directory of the file, with name (instead of path)."
    )
    name: Annotated[FileName, Tier.SAFE, Trait.REMOVES] | None = Field(
        default=None, description="File name inside directory."
    )
    content: Annotated[str, Guarded.CONTENT, Tier.SAFE, Trait.SECRET] | None = Field(
        default=None, max_length=MAX_FILE_CONTENT, description="Full content of the file."
    )
    template: Annotated[str, Guarded.CONTENT, Trait.SECRET] | None = Field(
        default=None,
        max_length=MAX_FILE_CONTENT,
        description="Jinja2 template of the content (instead of content); undefined variables are errors.",
    )
    variables: Annotated[dict[str, JsonValue], Trait.SECRET] | None = Field(
        default=None, description="Values for the template."
    )
    mode: Annotated[FileMode, Tier.SAFE] | None = Field(default=None, description='Octal mode, e.g. "0644" (0644).')
    owner: PosixName | None = Field(default=None, description="Owning user (left as is when unset).")
    group: PosixName | None = Field(default=None, description="Owning group (left as is when unset).")
    present: StrictBool | None = Field(
        default=None, description="true: the file exists with this content; false: it is absent (true)."
    )

    @model_validator(mode="after")
    def _path_or_directory_and_name(self) -> Self:
        PATH_OR_DIRECTORY.check(self.path is not None and (self.directory is not None or self.name is not None))
        CONTENT_OR_TEMPLATE.check(self.content is not None and self.template is not None)
        VARIABLES_FOR_TEMPLATE.check(self.variables is not None and self.template is None)
        if self.template is not None:
            render(self.template, self.variables or {})  # a broken template is bad input, now
        return self


class File(Resource):
    kind: Literal["File"] = "File"
    spec: FileSpec
    status: ResourceStatus[FileSpec] | None = None


class ResolvedFile(ResolvedCommon):
    """A File after completion: what compile/ turns into operations."""

    @model_validator(mode="before")
    @classmethod
    def _path_from_directory_and_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("directory" in data or "name" in data):
            data = dict(data)
            directory, name = data.pop("directory", None), data.pop("name", None)
            if data.get("path") is None and directory and name:
                data["path"] = f"{directory.rstrip('/')}/{name}"
        if isinstance(data, dict) and ("template" in data or "variables" in data):
            data = dict(data)
            template, variables = data.pop("template", None), data.pop("variables", None)
            if template is not None and data.get("content") is None:
                data["content"] = render(template, variables or {})
        return data

    @classmethod
    def missing_fields(cls, completed: dict[str, Any]) -> list[str]:
        missing = []
        has_dir_name = completed.get("directory") is not None and completed.get("name") is not None
        if completed.get("path") is None and not has_dir_name:
            missing.append("path")
        if completed.get("present", True) and completed.get("content") is None and completed.get("template") is None:
            missing.append("content")
        return missing + [f for f in super().missing_fields(completed) if f not in ("path", "content")]

    path: AbsolutePath
    content: str | None = Field(default=None, max_length=MAX_FILE_CONTENT)
    mode: FileMode
    owner: PosixName | None = None
    group: PosixName | None = None
    present: bool

    @model_validator(mode="after")
    def _content_when_present(self) -> Self:
        if self.present and self.content is None:
            raise ValueError("content is required when present is true")
        return self
