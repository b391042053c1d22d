"""Operator replicas with kopf peering (docs/operator.md#high-availability), on both backends.

One replica works, the other waits; SIGKILL the working one and the other takes over
within the peering lifetime, and nothing is applied twice across the hand-over. A replica
of higher priority that joins pauses the working one, health loop included. The peering
CRD is the chart's (charts/clockwork/crds/kopf.dev_clusterkopfpeerings.yaml).

How an apply is counted, three ways:

- every apply *run* is one observation of ``clockwork_runner_duration_seconds{action="apply"}``
  in the replica that ran it (the killed replica's scraped just before the kill);
- every apply that *changed the node* is one ``Applied`` Event about its object (Events are
  objects on the server: the killed replica's survive it);
- on the node, a file applied before the kill keeps its inode and mtime: nobody wrote it again.

The last two cannot see a second apply of the same content (files.put leaves an equal file
alone, and then there is no Applied Event), the first can:
``test_without_peering_both_replicas_apply_and_the_count_sees_it`` runs two replicas without
peering and sees the count go past one run per object.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.operator.conftest import EMULATOR_ONLY, OperatorLauncher, OperatorProcess
from tests.operator.resources import file_obj, metric, wait_condition
from tests.support.kubeapi import CRD_PATH, Kube
from tests.support.realkube import RealKube, install_crds

pytestmark = pytest.mark.integration

CHART_CRDS = REPO / "charts" / "clockwork" / "crds"  # the repo's peering CRD is the chart's
PEERING_CRD = CHART_CRDS / "kopf.dev_clusterkopfpeerings.yaml"
PEERINGS = "/apis/kopf.dev/v1/clusterkopfpeerings"
# Short, so the test is quick; the replicas renew their records every second at this lifetime.
LIFETIME = 4
# From the kill until the survivor works: the rest of the killed replica's lifetime (renewed
# every second at this lifetime), and a moment to see it.
TAKEOVER_BOUND = LIFETIME + 4
# ... and until its first Ready: kopf re-lists, resumes every object and applies the new one.
HANDOVER_BOUND = LIFETIME + 20
# kopf's log lines (INFO, DEBUG) for a replica that starts to work, and for watches held paused.
RESUMED = "Resuming operations after the pause"
WAITING = "Pausing the watch-stream for files.v1alpha1.clockwork.dev"


@pytest.fixture
def peering(kube: Kube, request: pytest.FixtureRequest) -> Iterator[str]:
    """The chart's ClusterKopfPeering CRD on the server; this test's peering name (the object
    itself is the operator's to create), deleted after the test."""
    if isinstance(kube, RealKube):
        install_crds(request.getfixturevalue("control_plane"), CHART_CRDS)
    else:
        kube.request("POST", CRD_PATH, yaml.safe_load(PEERING_CRD.read_text()))
    name = f"{kube.namespace}.clockwork"
    try:
        yield name
    finally:
        kube.request("DELETE", f"{PEERINGS}/{name}", expect=(200, 404))


def peers(kube: Kube, name: str) -> dict[str, dict[str, object]]:
    found = kube.request("GET", f"{PEERINGS}/{name}", expect=(200, 404))
    return {} if found.get("kind") == "Status" else dict(found.get("status") or {})  # a 404 is a Status


def applies(op: OperatorProcess) -> int:
    return int(metric(op.metrics(), "clockwork_runner_duration_seconds_count", action="apply"))


def applied_events(kube: Kube, name: str) -> int:
    return sum(1 for e in kube.events(name) if e["reason"] == "Applied")


def passed(op: OperatorProcess, *names: str) -> bool:
    """Whether ``op`` has made a reconcile pass of each File (it has a Ready gauge for it)."""
    ready = [line for line in op.metrics().splitlines() if line.startswith('clockwork_resource_ready{kind="File"')]
    return all(any(f',name="{n}"' in line for line in ready) for n in names)


def node_identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def test_killing_the_working_replica_hands_over_without_applying_twice(
    kube: Kube, operator: OperatorLauncher, peering: str, tmp_path: Path
) -> None:
    env = {"CW_PEERING": peering, "CW_PEERING_LIFETIME": str(LIFETIME)}
    first = operator.start(POD_ID="replica-a", **env)
    # Mandatory peering starts paused; alone in the peering object, replica-a works.
    kube.wait_for("replica-a works", lambda: RESUMED in first.logs())
    second = operator.start(POD_ID="replica-b", **env)  # started later: the lower priority
    kube.wait_for("both replicas announced", lambda: set(peers(kube, peering)) == {"replica-a", "replica-b"})
    kube.wait_for("replica-b's watches wait", lambda: WAITING in second.logs())

    before = {n: tmp_path / "srv" / f"{n}.txt" for n in ("one", "two")}
    for name, path in before.items():
        kube.create("files", file_obj(name, path=str(path), content=f"{name} v1\n"))
    for name in before:
        wait_condition(kube, name, "Ready", "True")
    # A change as well: it reaches a replica that is not waiting in the same watch event, and
    # that one would apply it too (the test without peering below).
    kube.patch("files", "one", {"spec": {"content": "one v2\n"}})
    kube.wait_for("one v2 observed", lambda: kube.get("files", "one")["status"]["observedGeneration"] == 2)
    assert before["one"].read_text() == "one v2\n"
    kube.wait_for("the Applied events", lambda: applied_events(kube, "one") >= 2 and applied_events(kube, "two"))
    assert [applied_events(kube, n) for n in before] == [2, 1], "a change was applied twice"
    on_node = {name: node_identity(path) for name, path in before.items()}
    assert (applies(first), applies(second)) == (3, 0), "the waiting replica applied something"
    assert RESUMED not in second.logs()

    first.proc.kill()  # SIGKILL: no goodbye in the peering object, the record has to expire
    first.proc.wait(timeout=10)
    killed = time.monotonic()
    three = tmp_path / "srv" / "three.txt"
    kube.create("files", file_obj("three", path=str(three), content="three v1\n"))
    kube.patch("files", "two", {"spec": {"content": "two v2\n"}})

    kube.wait_for("replica-b takes over", lambda: RESUMED in second.logs(), timeout=TAKEOVER_BOUND)
    took_over = time.monotonic() - killed
    wait_condition(kube, "three", "Ready", "True", timeout=HANDOVER_BOUND)
    handover = time.monotonic() - killed
    kube.wait_for("two v2 on disk", lambda: before["two"].read_text() == "two v2\n", timeout=HANDOVER_BOUND)
    kube.wait_for("generation 2 of two observed",
                  lambda: kube.get("files", "two")["status"]["observedGeneration"] == 2)  # fmt: skip
    assert three.read_text() == "three v1\n"
    print(f"hand-over (lifetime {LIFETIME}s): replica-b works {took_over:.1f}s after the SIGKILL, "
          f"a new File is Ready after {handover:.1f}s")  # fmt: skip

    # The survivor resumed every object (one untouched) before the count is taken.
    kube.wait_for("replica-b has passed every File", lambda: passed(second, "one", "two", "three"))
    kube.wait_for("replica-a's record gone", lambda: set(peers(kube, peering)) == {"replica-b"})
    kube.wait_for("the Applied events of the hand-over",
                  lambda: applied_events(kube, "two") >= 2 and applied_events(kube, "three"))  # fmt: skip
    # One apply per object and generation: one v1 and v2, two v1 and v2, three v1 — no more.
    assert {n: applied_events(kube, n) for n in ("one", "two", "three")} == {"one": 2, "two": 2, "three": 1}
    assert applies(second) == 2, "the survivor applied only what changed after the kill"
    assert node_identity(before["one"]) == on_node["one"], "one was written again on the node"
    assert node_identity(before["two"]) != on_node["two"]  # v2: the signal does see a write
    assert took_over < TAKEOVER_BOUND and handover < HANDOVER_BOUND


def test_without_peering_both_replicas_apply_and_the_count_sees_it(
    kube: Kube, operator: OperatorLauncher, tmp_path: Path
) -> None:
    """The sanity check of the count above: two replicas without peering both apply a change.

    (Both also race for a new object, which kopf's finalizer round-trip often settles first;
    a spec change reaches both in one watch event, and both apply it.)"""
    a, b = operator.start(POD_ID="solo-a"), operator.start(POD_ID="solo-b")
    names = ["x", "y", "z"]
    for name in names:
        kube.create("files", file_obj(name, path=str(tmp_path / "srv" / f"{name}.txt"), content=f"{name} v1\n"))
    for name in names:
        wait_condition(kube, name, "Ready", "True")
    kube.wait_for("both replicas passed every File", lambda: passed(a, *names) and passed(b, *names))
    before = applies(a) + applies(b)
    for name in names:
        kube.patch("files", name, {"spec": {"content": f"{name} v2\n"}})
    for name in names:
        kube.wait_for(f"{name} v2 Ready", lambda n=name: kube.get("files", n)["status"]["observedGeneration"] == 2)
    kube.wait_for("more than one apply per change", lambda: applies(a) + applies(b) - before > len(names))


def test_a_paused_replica_checks_and_remediates_nothing(kube: Kube, operator: OperatorLauncher, peering: str,
                                                         tmp_path: Path) -> None:  # fmt: skip
    """A replica of higher priority joins (CW_PEERING_PRIORITY): kopf pauses the working one, and
    its health loop — Clockwork's own, outside kopf — stops too; only the new one remediates."""
    env = {"CW_PEERING": peering, "CW_PEERING_LIFETIME": str(LIFETIME), "CW_CHECK_INTERVAL_DEFAULT": "1"}
    low = operator.start(POD_ID="low", **env)
    kube.wait_for("low works", lambda: RESUMED in low.logs())
    target = tmp_path / "srv" / "drift.txt"
    kube.create("files", file_obj("drift", path=str(target), content="keep\n"))
    wait_condition(kube, "drift", "Ready", "True")
    kube.wait_for("low's health loop checks", lambda: checks(low) >= 2)

    high = operator.start(POD_ID="high", CW_PEERING_PRIORITY="1", **env)  # above any start time's
    kube.wait_for("low pauses", lambda: "Pausing operations in favour of" in low.logs())
    kube.wait_for("high works", lambda: RESUMED in high.logs() and passed(high, "drift"))
    kube.wait_for("low's health loop skips", lambda: "skipped: another replica works (peering)" in low.logs())
    paused = checks(low), applies(low)

    target.unlink()  # drift: the working replica's check finds it and remediation puts it back
    kube.wait_for("high remediated the drift", lambda: target.exists() and applies(high) >= 1)
    high_checks = checks(high)
    kube.wait_for("three more checks by high", lambda: checks(high) >= high_checks + 3)
    assert (checks(low), applies(low)) == paused, "the paused replica checked or applied"
    assert target.read_text() == "keep\n"


def checks(op: OperatorProcess) -> int:
    return int(metric(op.metrics(), "clockwork_health_checks_total", kind="File"))


@EMULATOR_ONLY  # the real server has the CRD for the session once another test installed it
def test_peering_without_its_crd_stops_the_operator_saying_so(kube: Kube, operator: OperatorLauncher) -> None:
    with pytest.raises(AssertionError, match="the ClusterKopfPeering CRD is not installed") as exited:
        operator.start(CW_PEERING="nowhere")
    assert "operator exited" in str(exited.value)


def test_a_replica_that_stops_cleanly_hands_over_at_once(kube: Kube, operator: OperatorLauncher, peering: str,
                                                          tmp_path: Path) -> None:  # fmt: skip
    """SIGTERM (a rolling update, a drain): the replica leaves the peering object as it goes, so
    the next one works long before its record would have expired."""
    lifetime = 60
    env = {"CW_PEERING": peering, "CW_PEERING_LIFETIME": str(lifetime)}
    first = operator.start(POD_ID="old", **env)
    kube.wait_for("old works", lambda: RESUMED in first.logs())
    second = operator.start(POD_ID="new", **env)
    kube.wait_for("new waits", lambda: WAITING in second.logs() and set(peers(kube, peering)) == {"old", "new"})
    stopping = time.monotonic()
    assert first.stop() == 0
    kube.wait_for("new works", lambda: RESUMED in second.logs(), timeout=lifetime / 3)
    took_over = time.monotonic() - stopping
    assert set(peers(kube, peering)) == {"new"}
    kube.create("files", file_obj("after", path=str(tmp_path / "after.txt"), content="x\n"))
    wait_condition(kube, "after", "Ready", "True")
    print(f"clean hand-over: new works {took_over:.1f}s after SIGTERM to old (lifetime {lifetime}s)")
