"""A model endpoint that is down or misconfigured, as a newcomer meets it.

Covers: plan against an endpoint that hangs up fails fast (one connection for the
whole run: no client retries, no asking again for every resource), names the
endpoint and still shows each resource as Completed=False (CompletionUnavailable),
exit 1; `clockwork doctor` really asks the endpoint (GET /models with the key from
CW_API_KEY_FILE, never printed) and says reachable, refused or unreachable and why;
a down endpoint is not asked again within CW_RETRY_SECONDS, and is once it may be.
Real servers on 127.0.0.1, no mocks.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.models import override_allow_model_requests

from clockwork import kinds
from clockwork.api.registry import KINDS
from clockwork.completion import configured_completer
from clockwork.completion.ai import AICompleter
from clockwork.completion.base import Completer, CompletionContext, Proposal
from clockwork.completion.endpoint import CheckedCompleter
from clockwork.completion.guard import GuardPolicy
from clockwork.config import Settings
from tests.conftest import CliRunner
from tests.helpers import file_resource, free_port, write_resources

pytestmark = pytest.mark.integration

KEY = "sk-test-0d9c8b7a6f5e"


@dataclass
class Hangup:
    """A TCP server that accepts each connection and closes it at once: a broken endpoint."""

    url: str
    connections: list[int] = field(default_factory=list)


@contextmanager
def hangup_server() -> Iterator[Hangup]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = Hangup(url=f"http://127.0.0.1:{listener.getsockname()[1]}/v1")

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            server.connections.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        listener.close()
        thread.join(timeout=5)


@dataclass
class Models:
    """An OpenAI-compatible GET /v1/models that wants one API key."""

    url: str
    auth_headers: list[str] = field(default_factory=list)


@contextmanager
def models_server(key: str, port: int | None = None) -> Iterator[Models]:
    port = port or free_port()
    found = Models(url=f"http://127.0.0.1:{port}/v1")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found.auth_headers.append(self.headers.get("Authorization", ""))
            ok = self.path == "/v1/models" and self.headers.get("Authorization") == f"Bearer {key}"
            body: dict[str, Any] = {"object": "list", "data": [{"id": "m", "object": "model"}]}
            if not ok:
                body = {"error": {"message": f"Incorrect API key provided: {self.headers.get('Authorization')}"}}
            payload = json.dumps(body).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _three_files(workdir: Path) -> Path:
    docs = [file_resource(n, path=str(workdir / f"{n}.txt"), content=f"{n}\n") for n in ("one", "two", "three")]
    return write_resources(workdir / "files.yaml", *docs)


def test_plan_against_a_broken_endpoint_fails_fast_and_shows_every_resource(cli: CliRunner, workdir: Path) -> None:
    manifest = _three_files(workdir)
    with hangup_server() as endpoint:
        result = cli("plan", "-f", str(manifest), "--model", "m", "--base-url", endpoint.url)
    assert result.code == 1, result.stdout + result.stderr
    assert len(endpoint.connections) == 1, "one attempt for the whole run, not one (and retries) per resource"
    for name in ("one", "two", "three"):
        assert f"File/default/{name}  incomplete" in result.stdout
    assert result.stdout.count("Completed=False (CompletionUnavailable)") == 3, result.stdout
    assert result.stdout.count(f"model endpoint {endpoint.url} is unreachable") == 3
    assert "{}" not in result.stdout, "no empty table of fields when nothing was completed"
    assert f"model endpoint {endpoint.url} is unreachable" in result.stderr


def test_apply_against_a_closed_port_says_why(cli: CliRunner, workdir: Path) -> None:
    manifest = _three_files(workdir)
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = cli("apply", "-f", str(manifest), "-o", "json", env={"CW_MODEL": "m", "CW_BASE_URL": url})
    assert result.code == 1
    outcomes = result.json()
    assert [o["resource"] for o in outcomes] == ["File/default/one", "File/default/two", "File/default/three"]
    for outcome in outcomes:
        completed = next(c for c in outcome["status"]["conditions"] if c["type"] == "Completed")
        assert (completed["status"], completed["reason"]) == ("False", "CompletionUnavailable")
        assert f"model endpoint {url} is unreachable: connection refused" in completed["message"]
    assert not (workdir / "one.txt").exists()


def test_doctor_reaches_the_endpoint_with_the_key_and_never_prints_it(
    cli: CliRunner, workdir: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    with models_server(KEY) as server:
        env = {"CW_MODEL": "m", "CW_BASE_URL": server.url, "CW_API_KEY_FILE": str(key_file)}
        result = cli("doctor", "-o", "json", env=env)
        table = cli("doctor", env=env)
    assert server.auth_headers == [f"Bearer {KEY}", f"Bearer {KEY}"]
    check = next(c for c in result.json() if c["area"] == "completion")
    assert check["ok"] is True, check
    assert f"reachable: {server.url}" in check["detail"] and "m" in check["detail"]
    assert KEY not in result.stdout + result.stderr + table.stdout + table.stderr


def test_doctor_says_the_endpoint_refused_the_key(cli: CliRunner, workdir: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-wrong-1234567\n")
    with models_server(KEY) as server:
        result = cli("doctor", "-o", "json", env={"CW_MODEL": "m", "CW_BASE_URL": server.url,
                                                  "CW_API_KEY_FILE": str(key_file)})  # fmt: skip
    check = next(c for c in result.json() if c["area"] == "completion")
    assert check["ok"] is False
    assert f"{server.url} answered HTTP 401" in check["detail"]
    assert "CW_API_KEY" in check["hint"]
    assert "sk-wrong-1234567" not in result.stdout + result.stderr


def test_doctor_says_the_endpoint_is_unreachable(cli: CliRunner) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = cli("doctor", "-o", "json", env={"CW_MODEL": "m", "CW_BASE_URL": url})
    check = next(c for c in result.json() if c["area"] == "completion")
    assert check["ok"] is False
    assert f"unreachable: {url}" in check["detail"] and "refused" in check["detail"]
    offline = cli("doctor", "-o", "json", env={"CW_MODEL": ""})
    assert next(c for c in offline.json() if c["area"] == "completion")["ok"] is True


def _ask_before_and_after_it_comes_up(completer: Completer, port: int) -> tuple[Proposal, Proposal, Models]:
    """One completion while nothing listens on ``port``, one after a server came up there."""

    async def ask() -> tuple[Proposal, Proposal, Models]:
        try:
            before = await completer.propose(KINDS["File"], {"path": "/srv/a"}, ["content"], CompletionContext())
            with models_server(KEY, port) as server:
                after = await completer.propose(KINDS["File"], {"path": "/srv/a"}, ["content"], CompletionContext())
            return before, after, server
        finally:
            await completer.aclose()

    with override_allow_model_requests(True):
        return asyncio.run(ask())


def test_a_down_endpoint_is_not_asked_again_within_retry_seconds() -> None:
    port = free_port()
    settings = Settings.from_env({"CW_MODEL": "m", "CW_BASE_URL": f"http://127.0.0.1:{port}/v1", "CW_API_KEY": KEY,
                                  "CW_RETRY_SECONDS": "3600"})  # fmt: skip
    before, after, server = _ask_before_and_after_it_comes_up(configured_completer(settings, kinds.OFFLINE_RULES), port)
    assert before.temporary_error == f"model endpoint http://127.0.0.1:{port}/v1 is unreachable: connection refused"
    assert after.temporary_error == before.temporary_error
    assert server.auth_headers == [], "within CW_RETRY_SECONDS the endpoint is not asked again"


def test_an_endpoint_that_came_back_is_asked_again() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"

    def build() -> AICompleter:
        return AICompleter.openai_compatible("m", base_url=url, api_key=KEY, policy=GuardPolicy(), max_retries=0)

    completer = CheckedCompleter("m", base_url=url, api_key=KEY, build=build, retry_seconds=0)
    before, after, server = _ask_before_and_after_it_comes_up(completer, port)
    assert before.temporary_error is not None and "connection refused" in before.temporary_error
    assert server.auth_headers == [f"Bearer {KEY}"]  # asked again: GET /models with the key
    # ...then the model itself (this server has no chat completions: HTTP 501).
    assert after.temporary_error is not None and "answered HTTP 501" in after.temporary_error
