"""apply -> Ready latency in operator mode: the real operator against the API emulator.

Files are created one after another; for each, the time from the create call until
the bench first sees Ready=True (polled every 10 ms). Two targets: @local (the
operator's own machine) and one real sshd edge node (network-namespace lab, key from
a Secret). Each target runs with warm workers off (every run starts its PyInfra
worker) and on (CW_WARM_WORKERS=2), in the same process, so the ratio holds on a
noisy machine. The operator's own histograms give the breakdown: completion, runner
(worker spawn + run) for apply and check, and the rest of the pass (watch event,
compile, guard, status patches). Worker spawn alone is an empty request through the
PyInfra runner.

    .venv/bin/python bench/apply_latency.py [--objects 50] [--targets local ssh] [--warm 0 2]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.operator.conftest import OperatorLauncher
from tests.support.edge_lab import EdgeLab, edge_lab
from tests.support.kubeapi import KubeAPI

from bench.common import is_ready, summary, write
from clockwork.plan import HostSpec, RunRequest
from clockwork.runners.pyinfra import PyinfraRunner

REPO = Path(__file__).resolve().parents[1]


def histogram(text: str, name: str, **labels: str) -> tuple[float, float]:
    """(sum, count) of a histogram, over the series that carry ``labels``."""
    total = count = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}_(sum|count)\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(2) for k, v in labels.items()):
            if match.group(1) == "sum":
                total += float(match.group(3))
            else:
                count += float(match.group(3))
    return total, count


def mean(text: str, name: str, **labels: str) -> float:
    total, count = histogram(text, name, **labels)
    return total / count if count else 0.0


def spawn_seconds(runs: int = 5) -> list[float]:
    runner = PyinfraRunner()
    found = []
    for _ in range(runs):
        started = time.perf_counter()
        asyncio.run(runner.run(RunRequest(hosts=[HostSpec(name="@local")])))
        found.append(time.perf_counter() - started)
    return found


def wait(what: str, check: Any, timeout: float, logs: Any) -> None:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise SystemExit(f"{what} not within {timeout:g} s:\n{logs()[-3000:]}")
        time.sleep(0.01)


def edge_node(lab: EdgeLab) -> dict[str, Any]:
    node = lab.nodes[0]
    return {
        "apiVersion": "clockwork.dev/v1alpha1",
        "kind": "EdgeNode",
        "metadata": {"name": node.name},
        "spec": {"address": node.address, "sshKeySecret": {"name": "lab-key"}, "heartbeatSeconds": 300},
    }


def measure(warm: int, objects: int, lab: EdgeLab | None) -> dict[str, Any]:
    """One operator, ``objects`` Files one after another: latencies and the operator's histograms."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        kube = KubeAPI(work).start(REPO / "crds")
        launcher = OperatorLauncher(kube, work)
        try:
            env = {"CW_CHECK_INTERVAL_DEFAULT": "0", "CW_WARM_WORKERS": str(warm)}
            spec_target: dict[str, Any] = {}
            if lab is not None:
                key = base64.b64encode(lab.client_key.read_bytes()).decode()
                kube.request(
                    "POST",
                    "/api/v1/namespaces/default/secrets",
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": "lab-key"},
                        "data": {"ssh-privatekey": key},
                    },
                )
                env["CW_WORKER_PREFIX"] = lab.worker_prefix
            op = launcher.start(**env)
            if lab is not None:
                kube.create("edgenodes", edge_node(lab))
                name = lab.nodes[0].name
                wait(
                    f"{name} Online",
                    lambda: (kube.find("edgenodes", name) or {}).get("status", {}).get("phase") == "Online",
                    60,
                    op.logs,
                )
                spec_target = {"target": {"nodeName": name}}
            root = "/srv/bench" if lab is not None else f"{tmp}/out"
            # One File first, not counted: the operator's first pass loads what it needs.
            latencies = []
            for i in range(objects + 1):
                name = f"f{i}"
                started = time.perf_counter()
                kube.create(
                    "files",
                    {
                        "apiVersion": "clockwork.dev/v1alpha1",
                        "kind": "File",
                        "metadata": {"name": name},
                        "spec": {"path": f"{root}/{name}.txt", "content": f"{i}\n", **spec_target},
                    },
                )
                wait(f"{name} Ready", lambda n=name: is_ready(kube.find("files", n)), 60, op.logs)
                if i:
                    latencies.append(time.perf_counter() - started)
            metrics = op.metrics()
        finally:
            launcher.stop_all()
            kube.stop()
    parts = {
        "completion": mean(metrics, "clockwork_completion_duration_seconds"),
        "runner apply (worker spawn + run)": mean(metrics, "clockwork_runner_duration_seconds", action="apply"),
        "runner check (worker spawn + probes)": mean(metrics, "clockwork_runner_duration_seconds", action="check"),
    }
    # Everything else between the create call and Ready seen: the watch event reaching kopf,
    # compile and guard, status patches, and the bench's own polling (10 ms).
    rest = statistics.median(latencies) - sum(parts.values())
    return {"latency": summary(latencies), "latencies": latencies, "breakdown": parts, "rest": rest}


@contextlib.contextmanager
def maybe_lab(target: str) -> Iterator[EdgeLab | None]:
    if target == "ssh":
        with edge_lab(1) as lab:
            yield lab
    else:
        yield None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--targets", nargs="+", choices=["local", "ssh"], default=["local", "ssh"])
    parser.add_argument("--warm", nargs="+", type=int, default=[0, 2])
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    for target in args.targets:
        with maybe_lab(target) as lab:
            for warm in args.warm:
                results[f"{target} warm={warm}"] = measure(warm, args.objects, lab)
    spawn = summary(spawn_seconds())
    rows: list[tuple[str, ...]] = [
        ("target", "warm workers", "p50", "p95", "min / max", "completion", "runner apply", "runner check", "rest")
    ]
    for key, found in results.items():
        target, warm = key.split(" warm=")
        lat, parts = found["latency"], list(found["breakdown"].values())
        rows.append((
            "@local" if target == "local" else "1 sshd node", warm,
            f"{lat['median']:.3f} s", f"{lat['p95']:.3f} s", f"{lat['min']:.2f} / {lat['max']:.2f} s",
            *(f"{v:.3f} s" for v in parts), f"{found['rest']:.3f} s",
        ))  # fmt: skip
    best = {t: min(r["latency"]["median"] for k, r in results.items() if k.startswith(t)) for t in args.targets}
    verdict = ", ".join(f"{t}: {'meets' if v <= 1.0 else 'misses'} ({v:.2f} s)" for t, v in best.items())
    targets, warms = " ".join(args.targets), " ".join(map(str, args.warm))
    write(
        "apply_latency",
        f".venv/bin/python bench/apply_latency.py --objects {args.objects} --targets {targets} --warm {warms}",
        {"objects": args.objects, "results": results, "worker_spawn": spawn},
        rows,
        notes=(
            f"Target p50 <= 1.0 s, best setting per target: {verdict}. Starting a PyInfra worker alone takes "
            f"{spawn['median']:.2f} s here (median of 5). A File's check rides along with its apply, so a pass is "
            "one run; with warm workers off, worker start-up is most of an @local pass, and warm workers "
            "(CW_WARM_WORKERS, default 1) take it off the path. Over SSH the run itself dominates (connect, "
            "PyInfra's facts and the upload, then the probes, on a lab node that shares the 2 cores). Breakdown "
            "columns are means from the operator's histograms (including the first, uncounted File); "
            "rest = p50 minus those."
        ),
    )


if __name__ == "__main__":
    main()
