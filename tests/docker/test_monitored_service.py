"""manifests/examples/monitored-service.yaml on the real Docker engine, completed offline.

Two descriptions and nothing else ("a redis cache", "an nginx web server on port N"):
the offline completer's values must work together — the images it picks run, ports are
published on 127.0.0.1 only, the web container reaches the cache by the name in its
REDIS_URL on Clockwork's network, the health loop's checks (including the example's own
command assertion from inside the web container) pass — and destroy removes both
containers and says that the cache's data volume is kept.

No registry here: scripts/docker/offline-catalogue-images.sh builds the catalogue's two
images from Debian's packages and gives them the catalogue's tags. The test owns its
names and ports: the example is copied with a suffix on each name and free ports in the
descriptions (the completer takes the port a description names).
"""

from __future__ import annotations

import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, CliRunner
from tests.helpers import free_port
from tests.support.docker_lab import docker

EXAMPLE = REPO / "manifests" / "examples" / "monitored-service.yaml"


@pytest.fixture(scope="module")
def catalogue_images(docker_engine: None) -> None:
    script = REPO / "scripts" / "docker" / "offline-catalogue-images.sh"
    built = subprocess.run([str(script)], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-2000:]


@pytest.fixture
def names(catalogue_images: None) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:6]
    found = {"cache": f"monitored-cache-{suffix}", "web": f"monitored-web-{suffix}"}
    yield found
    for name in found.values():
        docker("rm", "-f", name)
    docker("volume", "rm", "-f", f"{found['cache']}-data")


def own_copy(workdir: Path, names: dict[str, str], cache_port: int, web_port: int) -> Path:
    text = EXAMPLE.read_text()
    text = text.replace("monitored-cache", names["cache"]).replace("monitored-web", names["web"])
    text = text.replace("a redis cache", f"a redis cache on port {cache_port}")
    assert "on port 8081" in text
    text = text.replace("on port 8081", f"on port {web_port}")
    path = workdir / "monitored-service.yaml"
    path.write_text(text)
    return path


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
        return str(answer.read().decode())


def test_the_offline_values_work_together(cli: CliRunner, workdir: Path, names: dict[str, str]) -> None:
    cache_port, web_port = free_port(), free_port()
    manifest = own_copy(workdir, names, cache_port, web_port)
    assert len(list(yaml.safe_load_all(manifest.read_text()))) == 2

    applied = cli("apply", "-f", str(manifest), "-o", "json", timeout=300)
    assert applied.code == 0, applied.stdout[-4000:] + applied.stderr[-2000:]
    by_name: dict[str, Any] = {o["resource"].rsplit("/", 1)[1]: o for o in applied.json()}
    cache = by_name[names["cache"]]["status"]["completed"]
    web = by_name[names["web"]]["status"]["completed"]
    assert cache["ports"] == [{"host": cache_port, "container": 6379, "hostIp": "127.0.0.1"}]
    assert web["ports"] == [{"host": web_port, "container": 80, "hostIp": "127.0.0.1"}]
    assert cache["networks"] == web["networks"] == ["clockwork"]
    assert web["env"]["REDIS_URL"] == f"redis://{names['cache']}:6379"

    checks = {r["name"]: r["ok"] for r in by_name[names["web"]]["status"]["health"]["results"]}
    assert checks.get("reaches-the-cache") is True, checks
    assert all(checks.values()), checks
    assert "nginx" in get(web_port)

    # Published on the loopback only: nothing listens for the cache on other addresses.
    published = docker("port", names["cache"], "6379/tcp").stdout.split()
    assert published == [f"127.0.0.1:{cache_port}"], published

    assert cli("assert", "-f", str(manifest)).code == 0

    destroyed = cli("destroy", "-f", str(manifest), "-o", "json", timeout=120)
    assert destroyed.code == 0, destroyed.stdout[-3000:]
    for name in names.values():
        assert docker("container", "inspect", name).returncode != 0, name
    volume = f"{names['cache']}-data"
    assert docker("volume", "inspect", volume).returncode == 0  # the data is the user's
    kept = [e["message"] for o in destroyed.json() for e in o["events"] if e["reason"] == "Kept"]
    assert any(volume in m and "volume rm" in m for m in kept), kept
