"""The deployable kinds, each described once (the Rollout's templates validate against them too)."""

from __future__ import annotations

from clockwork.api.container import Container, ContainerSpec, ResolvedContainer
from clockwork.api.file import File, FileSpec, ResolvedFile
from clockwork.api.gitrepo import GitRepo, GitRepoSpec, ResolvedGitRepo
from clockwork.api.kindinfo import KindInfo
from clockwork.api.system import (
    Directory,
    DirectorySpec,
    Package,
    PackageSpec,
    ResolvedDirectory,
    ResolvedPackage,
    ResolvedUser,
    User,
    UserSpec,
)
from clockwork.api.workload import ResolvedWorkload, Workload, WorkloadSpec

KINDS: dict[str, KindInfo] = {
    info.kind: info
    for info in (
        KindInfo(
            kind="File",
            defaults={"mode": "0644", "present": True},
            plural="files",
            singular="file",
            short_names=("cwfile",),
            model=File,
            spec_model=FileSpec,
            resolved_model=ResolvedFile,
            default_health_interval=0,
            description="A file on a target machine: content (or a template), mode and ownership.",
            alternatives=((("path",), ("directory", "name")), (("content",), ("template",))),
        ),
        KindInfo(
            kind="Directory",
            defaults={"mode": "0755", "recursive": False, "present": True},
            plural="directories",
            singular="directory",
            short_names=("cwdir",),
            model=Directory,
            spec_model=DirectorySpec,
            resolved_model=ResolvedDirectory,
            default_health_interval=0,
            description="A directory on a target machine: mode and ownership, optionally recursive.",
        ),
        KindInfo(
            kind="User",
            defaults={"system": False, "present": True},
            plural="users",
            singular="user",
            short_names=("cwuser",),
            model=User,
            spec_model=UserSpec,
            resolved_model=ResolvedUser,
            default_health_interval=0,
            description="A local user account on a target machine.",
            name_field="name",
        ),
        KindInfo(
            kind="Package",
            defaults={"manager": "auto", "present": True, "update": False},
            plural="packages",
            singular="package",
            short_names=("cwpkg",),
            model=Package,
            spec_model=PackageSpec,
            resolved_model=ResolvedPackage,
            default_health_interval=0,
            description="System packages through the node's package manager (apt, dnf, apk).",
        ),
        KindInfo(
            kind="Container",
            defaults={"restartPolicy": "unless-stopped", "present": True, "running": True, "runtime": "docker"},
            plural="containers",
            singular="container",
            short_names=("cwct",),
            model=Container,
            spec_model=ContainerSpec,
            resolved_model=ResolvedContainer,
            default_health_interval=30,
            description="A container on a target machine (Docker or Podman), kept running and checked.",
            name_field="name",
        ),
        KindInfo(
            kind="GitRepo",
            defaults={"pull": True, "present": True},
            plural="gitrepos",
            singular="gitrepo",
            short_names=("cwgit",),
            model=GitRepo,
            spec_model=GitRepoSpec,
            resolved_model=ResolvedGitRepo,
            default_health_interval=300,
            description="A git working copy on a target machine at a branch, tag or commit.",
        ),
        KindInfo(
            kind="Workload",
            defaults={"type": "service", "runMode": "forever", "restartDelaySeconds": 5, "present": True},
            plural="workloads",
            singular="workload",
            short_names=("cwwl",),
            model=Workload,
            spec_model=WorkloadSpec,
            resolved_model=ResolvedWorkload,
            default_health_interval=60,
            description="A program run forever, n times or on a schedule, as systemd units with limits.",
            alternatives=((("command",), ("module", "entryPoint", "params")),),
            name_field="name",
        ),
    )
}
