"""The operator's Event poster against the API server (both backends), through the real Kubernetes client."""

from __future__ import annotations

import asyncio
from typing import Any

from clockwork.operator.events import MESSAGE_LIMIT, EventPoster
from clockwork.operator.kube import KubeClient
from tests.support.kubeapi import Kube


def file_in(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "clockwork.dev/v1alpha1",
        "kind": "File",
        "metadata": {"name": "motd", "namespace": namespace, "uid": "0000-motd"},
    }


async def test_events_are_posted_about_the_object_and_long_messages_are_cut(kube: Kube) -> None:
    client = KubeClient.from_kubeconfig(str(kube.operator_kubeconfig()))
    poster = EventPoster(client.create_event)
    file = file_in(kube.namespace)
    poster.start()
    try:
        poster.post(file, "Normal", "Applied", "applied on 1 node")
        poster.post(file, "Warning", "CheckFailed", "x" * 5000)
    finally:
        await poster.stop()  # posts what is queued first
        client.close()
    events = await asyncio.to_thread(kube.events, "motd")
    by_reason = {e["reason"]: e for e in events}
    assert set(by_reason) == {"Applied", "CheckFailed"}
    applied = by_reason["Applied"]
    assert applied["type"] == "Normal" and applied["message"] == "applied on 1 node"
    assert applied["involvedObject"] == {
        "apiVersion": "clockwork.dev/v1alpha1", "kind": "File", "name": "motd", "namespace": kube.namespace,
        "uid": "0000-motd",
    }  # fmt: skip
    assert applied["source"] == {"component": "clockwork"} and applied["count"] == 1
    assert len(by_reason["CheckFailed"]["message"]) == MESSAGE_LIMIT


async def test_a_failed_post_does_not_stop_the_next_and_a_full_queue_drops(kube: Kube) -> None:
    client = KubeClient.from_kubeconfig(str(kube.operator_kubeconfig()))
    posted: list[str] = []

    async def create(namespace: str, body: dict[str, Any]) -> None:
        await client.create_event(namespace, body)
        posted.append(body["reason"])

    poster = EventPoster(create, limit=3)
    file = file_in(kube.namespace)
    try:
        elsewhere = file_in("no-such-namespace")
        poster.post(elsewhere, "Normal", "Lost", "the namespace does not exist")
        for reason in ("One", "Two", "Three"):  # the queue holds 3: "Three" is dropped
            poster.post(file, "Normal", reason, reason)
        poster.start()
    finally:
        await poster.stop()
        client.close()
    assert posted == ["One", "Two"]
    assert sorted(e["reason"] for e in await asyncio.to_thread(kube.events, "motd")) == ["One", "Two"]
