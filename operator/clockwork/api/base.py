"""Base model, object metadata and conditions shared by every Clockwork kind.

Everything that crosses a boundary (YAML from users, Kubernetes bodies, status,
worker plans) is a Pydantic model built on :class:`CWModel`. Field names are
snake_case in Python and camelCase on the wire, as in the Kubernetes API.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from clockwork.model import CWModel, utcnow

__all__ = ["API_VERSION", "GROUP", "VERSION", "CWModel", "Condition", "ObjectMeta", "utcnow"]

GROUP = "clockwork.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_subdomain(value: str) -> bool:
    """A valid name for most Kubernetes objects (RFC 1123 subdomain, at most 253 characters)."""
    return len(value) <= 253 and bool(_DNS_SUBDOMAIN.match(value))


def _dns_subdomain(value: str) -> str:
    if not is_dns_subdomain(value):
        raise ValueError(
            "must be a lowercase RFC 1123 subdomain: a-z, 0-9, '-' and '.', "
            "starting and ending with a letter or digit, at most 253 characters"
        )
    return value


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            "must be a lowercase RFC 1123 label: a-z, 0-9 and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


DNSSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
DNSLabel = Annotated[str, AfterValidator(_dns_label)]


class OwnerReference(CWModel):
    """metav1.OwnerReference: the owner is garbage-collected with its dependents."""

    model_config = ConfigDict(extra="ignore")

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(CWModel):
    """The part of Kubernetes ObjectMeta that Clockwork reads (and writes, for the Tasks it creates).

    Bodies from a real API server carry more (managedFields, ...);
    those are ignored here rather than rejected.
    """

    model_config = ConfigDict(extra="ignore")

    name: DNSSubdomain
    namespace: DNSLabel = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int | None = None
    uid: str | None = None
    resource_version: str | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    finalizers: list[str] = Field(default_factory=list)
    owner_references: list[OwnerReference] = Field(default_factory=list)


ConditionStatus = Literal["True", "False", "Unknown"]

# metav1.Condition's own rules, so that what we write passes a real API server.
_REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(CWModel):
    """A Kubernetes API convention condition (metav1.Condition)."""

    type: str = Field(
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        max_length=316,
        description="Type of condition in CamelCase: Completed, Applied, Healthy or Ready.",
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        pattern=_REASON,
        min_length=1,
        max_length=1024,
        description="Machine-readable CamelCase reason for the last transition.",
    )
    message: str = Field(default="", max_length=32768, description="Human-readable detail.")
    last_transition_time: datetime = Field(
        description="When status last changed (not when the condition was last written)."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation this condition was set for."
    )
