"""Builders and waits the operator tier's tests share: a File object, its conditions and Events,
a metric's value."""

from __future__ import annotations

from typing import Any

from tests.support.kubeapi import Kube


def file_obj(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "clockwork.dev/v1alpha1", "kind": "File", "metadata": {"name": name}, "spec": spec}


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions", []):
        if c["type"] == type_:
            return dict(c)
    return None


def wait_condition(
    kube: Kube, name: str, type_: str, status: str, reason: str | None = None, timeout: float = 60
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = kube.find("files", name)
        c = condition(obj, type_)
        if c and c["status"] == status and (reason is None or c["reason"] == reason):
            return obj
        return None

    return dict(kube.wait_for(f"{name} {type_}={status} {reason or ''}", check, timeout))


def event_reasons(kube: Kube, name: str) -> list[str]:
    return [e["reason"] for e in kube.events(name)]


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total
