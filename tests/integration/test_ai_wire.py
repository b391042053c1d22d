"""The AI completer over real HTTP against an OpenAI-compatible endpoint on 127.0.0.1.

Covers: the real client path (pydantic-ai -> openai -> HTTP) with the key sent as a
bearer token; invalid output retried over the wire; timeouts, a refused key, a
server error and an unreachable endpoint each becoming a clear, temporary failure
with the key scrubbed; and through the `clockwork` command: AI-filled content
applied, an unchanged spec making 0 model calls on the next run (read from the
metrics file), plan then apply asking once, and the key never written anywhere.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.models import override_allow_model_requests

from clockwork.api.registry import KINDS
from clockwork.completion import pipeline
from clockwork.completion.ai import AICompleter
from clockwork.completion.base import Completion, CompletionContext
from clockwork.completion.guard import GuardPolicy
from tests.conftest import CliRunner
from tests.helpers import file_resource, free_port, write_resources
from tests.support.fake_openai import Step, serve

pytestmark = pytest.mark.integration
FILE = KINDS["File"]
KEY = "sk-test-7f3a9c2e51d04b8e"


def run_completion(url: str, spec: dict[str, Any], timeout: float = 5, retries: int = 3) -> Completion:
    completer = AICompleter.openai_compatible(
        "fake-model",
        base_url=url,
        api_key=KEY,
        policy=GuardPolicy(),
        max_retries=retries,
        timeout=timeout,
        max_tokens=256,
    )

    async def once() -> Completion:
        try:
            return await pipeline.complete(FILE, spec, CompletionContext(name="motd"), completer)
        finally:
            await completer.aclose()

    with override_allow_model_requests(True):
        return asyncio.run(once())


def test_real_http_path_with_retry_on_invalid_output() -> None:
    with serve([Step({"content": "hi", "mode": "999"}), Step({"content": "hi\n", "mode": "0640"})]) as fake:
        result = run_completion(fake.url, {"path": "/srv/motd"})
    assert result.completed["content"] == "hi\n"
    assert result.completed["mode"] == "0640"
    assert len(fake.requests) == 2
    assert "String should match pattern" in fake.retry_feedback(1)
    assert fake.auth_headers[0] == f"Bearer {KEY}"
    assert fake.requests[0]["model"] == "fake-model"
    # The bound on the answer in the field every local server takes (llama.cpp ignores max_completion_tokens).
    assert fake.requests[0]["max_tokens"] == 256 and "max_completion_tokens" not in fake.requests[0]


def test_timeout_is_a_temporary_failure() -> None:
    with serve([Step({"content": "late"}, delay=4)]) as fake:
        started = time.monotonic()
        result = run_completion(fake.url, {"path": "/srv/motd"}, timeout=1)
        elapsed = time.monotonic() - started
    assert result.temporary_error is not None
    assert "did not answer within 1s" in result.temporary_error
    assert elapsed < 4
    assert len(fake.requests) == 1


def test_refused_key_is_named_and_scrubbed() -> None:
    with serve([Step(status=401, error=f"Incorrect API key provided: {KEY}")]) as fake:
        result = run_completion(fake.url, {"path": "/srv/motd"})
    assert result.temporary_error is not None
    assert "refused the API key" in result.temporary_error
    assert "CW_API_KEY" in result.temporary_error
    assert KEY not in result.temporary_error


def test_server_error_is_temporary() -> None:
    with serve([Step(status=500, error="upstream exploded")]) as fake:
        result = run_completion(fake.url, {"path": "/srv/motd"})
    assert result.temporary_error is not None
    assert "answered HTTP 500" in result.temporary_error


def test_unreachable_endpoint() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_completion(f"http://127.0.0.1:{port}/v1", {"path": "/srv/motd"})
    assert result.temporary_error is not None
    assert "unreachable" in result.temporary_error


def _model_requests(metrics_file: Path) -> float:
    found = re.search(r'^clockwork_completion_model_requests_total\{model="fake-model"\} (\S+)$',
                      metrics_file.read_text(), re.M)  # fmt: skip
    return float(found.group(1)) if found else 0.0


def test_cli_applies_ai_content_and_does_not_ask_twice(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text(KEY + "\n")
    target = workdir / "out" / "greeting.txt"
    manifest = write_resources(
        workdir / "m.yaml", file_resource("greeting", description="a friendly greeting", path=str(target))
    )
    metrics_file = tmp_path / "metrics.prom"
    with serve([Step({"content": "Hello from the model\n"})]) as fake:
        env = {"CW_MODEL": "fake-model", "CW_BASE_URL": fake.url, "CW_API_KEY_FILE": str(key_file),
               "CW_METRICS_FILE": str(metrics_file), "CW_ALLOWED_ROOTS": str(workdir)}  # fmt: skip
        first = cli("apply", "-f", str(manifest), "-o", "json", env=env)
        assert first.code == 0, first.stdout + first.stderr
        assert target.read_text() == "Hello from the model\n"
        assert first.json()[0]["completion"] == {
            "completer": "ai", "model": "fake-model", "asked": True, "cached": False,
            "completedHash": first.json()[0]["completion"]["completedHash"],
        }  # fmt: skip
        assert _model_requests(metrics_file) == 1
        assert len(fake.requests) == 1

        second = cli("apply", "-f", str(manifest), "-o", "json", env=env)
        assert second.code == 0
        assert second.json()[0]["completion"]["cached"] is True
        assert _model_requests(metrics_file) == 0  # the counter of this run: zero model calls
        assert len(fake.requests) == 1

        plan_manifest = write_resources(
            workdir / "p.yaml", file_resource("planned", description="notes", path=str(workdir / "notes.txt"))
        )
        assert cli("plan", "-f", str(plan_manifest), env=env).code == 0
        assert cli("apply", "-f", str(plan_manifest), env=env).code == 0
        assert len(fake.requests) == 2  # plan asked once, apply used the cache

        plan = cli("plan", "-f", str(manifest), env=env)
        assert "ai (fake-model)" in plan.stdout

    everything = first.stdout + first.stderr + second.stdout + plan.stdout + metrics_file.read_text()
    everything += (workdir / ".clockwork" / "state.db").read_bytes().decode(errors="replace")
    assert KEY not in everything


def test_cli_reports_unreachable_model_as_not_completed(cli: CliRunner, workdir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    manifest = write_resources(workdir / "m.yaml", file_resource("x", path=str(workdir / "x.txt")))
    env = {"CW_MODEL": "fake-model", "CW_BASE_URL": f"http://127.0.0.1:{port}/v1"}
    result = cli("apply", "-f", str(manifest), "-o", "json", env=env)
    assert result.code == 1
    completed = next(c for c in result.json()[0]["status"]["conditions"] if c["type"] == "Completed")
    assert completed["reason"] == "CompletionUnavailable"
    assert "unreachable" in completed["message"]
    assert not (workdir / "x.txt").exists()


def test_credentials_in_the_endpoint_url_are_never_printed(cli: CliRunner, workdir: Path) -> None:
    secret = "pw-4d1e7a9b"
    write_resources(workdir / "f.yaml", file_resource("motd", path=str(workdir / "motd.txt")))
    env = {"CW_MODEL": "m", "CW_BASE_URL": f"http://ops:{secret}@127.0.0.1:{free_port()}/v1", "CW_STATE_DIR": ".cw"}
    for args in (("plan", "-f", "f.yaml"), ("apply", "-f", "f.yaml", "-o", "json"), ("doctor", "-o", "json")):
        result = cli(*args, env=env)
        assert secret not in result.stdout + result.stderr, args
    assert "ops:***@127.0.0.1" in cli("apply", "-f", "f.yaml", "-o", "json", env=env).stdout


def test_a_model_chosen_repository_waits_for_approval_then_applies(cli: CliRunner, workdir: Path) -> None:
    from tests.helpers import resource

    dest = workdir / "app"
    url = f"https://127.0.0.1:{free_port()}/team/app.git"  # nothing answers: the clone fails after approval
    manifest = write_resources(workdir / "g.yaml", resource("GitRepo", "app", description="our app", dest=str(dest)))
    with serve([Step({"url": url})]) as fake:
        env = {"CW_MODEL": "fake-model", "CW_BASE_URL": fake.url, "CW_ALLOWED_ROOTS": str(workdir)}
        waiting = cli("apply", "-f", str(manifest), "-o", "json", env=env)
        assert waiting.code == 1
        applied = next(c for c in waiting.json()[0]["status"]["conditions"] if c["type"] == "Applied")
        assert applied["reason"] == "AwaitingApproval"
        assert (
            f"spec.url = {url} (repository on 127.0.0.1/team/app.git, not in CW_ALLOWED_GIT_HOSTS)"
            in applied["message"]
        )
        assert not dest.exists()
        plan = cli("plan", "-f", str(manifest), env=env)
        assert "waits for approval" in plan.stdout and f"spec.url = {url}" in plan.stdout
        completed_hash = waiting.json()[0]["completion"]["completedHash"]
        assert cli("approve", "-f", str(manifest), "--hash", "0000000000000000", env=env).code == 1
        assert cli("approve", "-f", str(manifest), "--hash", completed_hash, env=env).code == 0
        after = cli("apply", "-f", str(manifest), "-o", "json", env=env)
        applied = next(c for c in after.json()[0]["status"]["conditions"] if c["type"] == "Applied")
        assert applied["reason"] == "ApplyFailed"  # approved: it ran (and the clone found no server)
        assert len(fake.requests) == 1  # one completion, approved, never asked again


def test_cli_completes_a_manifest_of_files_in_one_batched_request(cli: CliRunner, workdir: Path) -> None:
    names = [f"note{i}" for i in range(4)]
    manifest = write_resources(
        workdir / "m.yaml",
        *(file_resource(n, description=f"note {n}", path=str(workdir / f"{n}.txt")) for n in names),
    )
    batch = Step({"items": [{"id": i, "content": f"note {i}\n", "mode": "0644"} for i in range(len(names))]})
    with serve([batch]) as fake:
        env = {"CW_MODEL": "fake-model", "CW_BASE_URL": fake.url, "CW_ALLOWED_ROOTS": str(workdir)}
        first = cli("apply", "-f", str(manifest), "-o", "json", env=env)
        assert first.code == 0, first.stdout + first.stderr
        assert len(fake.requests) == 1  # four completions, one request
        # Each resource got the entry with its own id (the order in the request is the batch's).
        prompt = next(m["content"] for m in fake.requests[0]["messages"] if m["role"] == "user")
        ids = {r["name"]: r["id"] for r in json.loads(prompt[prompt.index("{") :])["resources"]}
        assert sorted(ids) == names
        assert {n: (workdir / f"{n}.txt").read_text() for n in names} == {n: f"note {ids[n]}\n" for n in names}
        assert all(o["completion"]["asked"] and not o["completion"]["cached"] for o in first.json())
        assert cli("apply", "-f", str(manifest), env={**env, "CW_COMPLETION_BATCH_SIZE": "1"}).code == 0
        assert len(fake.requests) == 1  # cached: a re-run asks nothing
