"""Clockwork's API: one Pydantic model per kind, the single source of truth.

Group ``clockwork.dev``, version ``v1alpha1``. The CRDs in ``crds/`` are generated
from these models by :mod:`clockwork.crdgen`.
"""

from clockwork.api.base import API_VERSION, GROUP, VERSION, Condition, CWModel, ObjectMeta
from clockwork.api.common import ResourceStatus
from clockwork.api.file import File, FileSpec, ResolvedFile
from clockwork.api.registry import KINDS, KindInfo, kind_info, parse_resource

__all__ = [
    "API_VERSION",
    "GROUP",
    "KINDS",
    "VERSION",
    "CWModel",
    "Condition",
    "File",
    "FileSpec",
    "KindInfo",
    "ObjectMeta",
    "ResolvedFile",
    "ResourceStatus",
    "kind_info",
    "parse_resource",
]
