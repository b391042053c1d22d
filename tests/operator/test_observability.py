"""Dashboards and alerts against a real Prometheus scraping a real operator.

The operator runs against the API emulator with some resources in it (one Ready
File, one File whose health check fails, an EdgeNode nobody answers for); a real
Prometheus (Debian's package) scrapes it every second and loads the chart's alert
rules. Every dashboard query, every variable query and every alert expression must
evaluate without error, and the core panels must return series.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.helpers import free_port
from tests.operator.conftest import OperatorLauncher, OperatorProcess
from tests.support.kubeapi import Kube

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "clockwork"
VARIABLES = {"$job": "clockwork", "$namespace": ".*"}
# Panels that must show data with the resources this test makes.
CORE = {
    "Reconciles by result", "Reconcile time (p50 / p95 / p99)", "In-flight reconciles", "CPU (cores)",
    "Memory (RSS)", "Up", "Ready by kind", "Healthy by kind", "Not ready", "Ready by namespace",
    "Health checks by result", "Edge nodes by phase", "Online", "Completions by result",
    "Run time on nodes (p50 / p95)",
}  # fmt: skip


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert answer["status"] == "success", f"{expr}: {answer}"
        return list(answer["data"]["result"])


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[Prometheus, Path]]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing (Debian: package prometheus; make test installs it)")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    shutil.copy(CHART / "files" / "alerts.yaml", tmp_path / "alerts.yaml")
    settings = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": ["alerts.yaml"], "scrape_configs": []}  # fmt: skip
    config.write_text(yaml.safe_dump(settings))
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        prom = Prometheus(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{prom.url}/-/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError((tmp_path / "prometheus.log").read_text()[-2000:])
        yield prom, config
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def scrape(prom: Prometheus, config: Path, operator: OperatorProcess) -> None:
    target = operator.metrics_url.split("/")[2]
    data = yaml.safe_load(config.read_text())
    data["scrape_configs"] = [{"job_name": "clockwork", "static_configs": [{"targets": [target]}]}]
    config.write_text(yaml.safe_dump(data))
    assert requests.post(f"{prom.url}/-/reload", timeout=10).status_code == 200


def until(what: str, predicate: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := predicate():
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout}s")


def expand(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def test_every_panel_and_alert_evaluates(
    kube: Kube, operator: OperatorLauncher, prometheus: tuple[Prometheus, Path], tmp_path: Path
) -> None:
    prom, config = prometheus
    op = operator.start()

    def file(name: str, **spec: Any) -> dict[str, Any]:
        return {"apiVersion": "clockwork.dev/v1alpha1", "kind": "File", "metadata": {"name": name}, "spec": spec}

    kube.create("files", file("good", path=str(tmp_path / "good.txt"), content="ok\n"))
    kube.create("files", file("bad", path=str(tmp_path / "bad.txt"), content="x", remediation={"enabled": False},
                              health={"assertions": [{"type": "command", "command": "exit 3"}]}))  # fmt: skip
    kube.create("edgenodes", {"apiVersion": "clockwork.dev/v1alpha1", "kind": "EdgeNode",
                              "metadata": {"name": "gone"},
                              "spec": {"address": "127.0.0.1", "port": free_port(), "sshKeySecret": {"name": "none"},
                                       "heartbeatSeconds": 5}})  # fmt: skip
    scrape(prom, config, op)
    until("both Files reconciled and scraped",
          lambda: len(prom.query('clockwork_resource_ready{job="clockwork"}')) == 2)  # fmt: skip
    until("node phase scraped", lambda: prom.query('clockwork_edgenode_phase{job="clockwork"}'))
    time.sleep(3)  # a few more scrapes, so that rate() over them has two points

    empty: list[str] = []
    for path in sorted((CHART / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                metric, label = variable["query"].removeprefix("label_values(").rstrip(")").split(", ")
                answer = requests.get(f"{prom.url}/api/v1/label/{label}/values", params={"match[]": metric},
                                      timeout=10).json()  # fmt: skip
                assert answer["status"] == "success"
        for panel in board["panels"]:
            results = [prom.query(expand(t["expr"])) for t in panel["targets"]]
            if panel["title"] in CORE and not any(results):
                empty.append(f"{board['title']}: {panel['title']}")
    assert empty == [], f"core panels without data: {empty}"

    groups = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())["groups"]
    for rule in (r for g in groups for r in g["rules"]):
        prom.query(rule["expr"])
    rules = requests.get(f"{prom.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {r["name"]: r["health"] for g in rules for r in g["rules"]} == {
        r["alert"]: "ok" for g in groups for r in g["rules"]
    }
    assert prom.query('clockwork_resource_healthy{job="clockwork", name="bad"} == 0')
