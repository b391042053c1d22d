"""Clockwork's AI completer against a real language model (the model tier).

The model is SmolLM2-135M served by llama.cpp's OpenAI-compatible server on 127.0.0.1
(tests/support/llama.py). A model this small picks odd values, so these tests assert on
structure and on the guard, never on its wording: every completion ends valid against
the kind's schema and clean under the guard, or refused with the field and the rule;
the server's quirks (tool-call history, json_object mode, no json_schema) are met; a
second run asks the model nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from clockwork import metrics
from clockwork.api.registry import KINDS
from clockwork.completion import guard, pipeline
from clockwork.completion.ai import AICompleter
from clockwork.completion.base import Completer, Completion, CompletionContext
from clockwork.completion.guard import GuardPolicy
from clockwork.completion.layered import ModelThenRules
from clockwork.kinds import offline_completer
from tests.conftest import CliRunner
from tests.helpers import file_resource, free_port, resource, write_resources
from tests.support.docker_lab import HTTP_IMAGE, docker
from tests.support.llama import ALIAS, ModelServer
from tests.support.watch import watching

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("allow_model_requests")]

FILE = KINDS["File"]
GAME_OF_LIFE = "Write about Conway's Game of Life"
# An answer's bound: a model this small may not stop (an answer cut at the bound is invalid
# JSON and goes back as such), and the server generates on after a client gave up; 768
# tokens are about 20 s here.
MAX_TOKENS = 768
# A completion that ended without values it could use: refused, left open, or not allowed.
REFUSED = ("CompletionRejected", "MissingValues", "GuardRejected", "Invalid")


def condition(record: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in record["status"]["conditions"] if c["type"] == kind), None)


def decided(record: dict[str, Any]) -> bool:
    """What a remediation test waits for: healthy, given up, or nothing the model wrote accepted."""
    healthy, completed = condition(record, "Healthy"), condition(record, "Completed")
    if completed is not None and completed["status"] == "False" and completed["reason"] in REFUSED:
        return True  # nothing it wrote was accepted: nothing to check
    return healthy is not None and (healthy["status"] == "True" or healthy["reason"] == "RemediationExhausted")


def real_model(server: ModelServer, policy: GuardPolicy, **options: Any) -> AICompleter:
    return AICompleter.openai_compatible(ALIAS, base_url=server.url, api_key=None, policy=policy, timeout=150,
                                         max_tokens=MAX_TOKENS, **options)  # fmt: skip


def model_requests() -> float:
    return metrics.REGISTRY.get_sample_value("clockwork_completion_model_requests_total", {"model": ALIAS}) or 0.0


def complete(completer: Completer, spec: dict[str, Any], name: str = "life") -> Completion:
    async def run() -> Completion:
        try:
            return await pipeline.complete(FILE, spec, CompletionContext(name=name), completer)
        finally:
            await completer.aclose()

    return asyncio.run(run())


def assert_valid_and_guarded(result: Completion, policy: GuardPolicy) -> None:
    """The server answered, and the completion is either valid and guard-clean, or refused
    with the field and the rule and nothing of the model's answer kept (a 135M model writes
    invalid JSON too: it goes back to it, and after the retries it is refused)."""
    assert result.temporary_error is None, result.temporary_error
    if result.error is not None:
        assert re.search(r"last answer rejected: spec[\w.]*: .*\(rule: [\w-]+\)", result.error), result.error
        assert not [f for f in result.filled if f.source == "ai"]
        return
    FILE.spec_model.model_validate(result.completed, by_alias=True, by_name=False)
    proposed = {f.field.split(".")[0] for f in result.filled if f.source in ("ai", "offline")}
    values = {k: v for k, v in result.completed.items() if k in proposed}
    assert guard.check(FILE.spec_model, result.completed, values, policy) == []


@pytest.mark.parametrize("mode", ["tool", "json-object"])
def test_a_file_from_a_description_in_each_output_mode(model_server: ModelServer, tmp_path: Path, mode: str) -> None:
    policy = GuardPolicy(allowed_roots=(str(tmp_path),))
    before = model_requests()
    completer = ModelThenRules(real_model(model_server, policy, output=mode), offline_completer(str(tmp_path)))
    result = complete(completer, {"description": GAME_OF_LIFE})
    assert model_requests() > before  # the model was asked, in this mode, and the server took it
    assert_valid_and_guarded(result, policy)
    if result.error is not None:
        return
    assert str(result.completed["path"]).startswith(str(tmp_path) + "/")
    sources = {f.field: f.source for f in result.filled}
    assert sources["path"] in ("ai", "offline")  # the model's, or the rules' where it left it open
    assert set(sources.values()) <= {"ai", "offline", "default"}
    for unresolved in result.unresolved:  # whatever stays open is said, with a reason
        assert unresolved.field in ("content", "path", "mode") and unresolved.reason


def test_a_server_without_json_schema_output_is_reported_and_auto_moves_on(
    model_server: ModelServer, tmp_path: Path
) -> None:
    policy = GuardPolicy(allowed_roots=(str(tmp_path),))
    native = complete(real_model(model_server, policy, output="native"), {"description": "notes"})
    assert native.temporary_error is not None
    assert re.search(r"answered HTTP 5\d\d", native.temporary_error), native.temporary_error
    # auto: native is refused the same way, and the next mode answers.
    auto = real_model(model_server, policy, output="auto")
    auto.modes = ["native", "json-object"]
    result = complete(ModelThenRules(auto, offline_completer(str(tmp_path))), {"description": "notes"})
    assert_valid_and_guarded(result, policy)
    assert auto.modes[0] == "json-object"


def test_rejected_answers_go_back_through_a_history_the_server_takes(model_server: ModelServer, tmp_path: Path) -> None:
    # Nothing but a few bytes of content is allowed: every answer the model writes is refused
    # and sent back with the reason (the retry history the server could not take as tool calls).
    policy = GuardPolicy(allowed_roots=(str(tmp_path),), max_content_bytes=4)
    before = model_requests()
    result = complete(
        real_model(model_server, policy, output="tool", max_retries=2),
        {"path": str(tmp_path / "life.txt"), "mode": "0644", "description": GAME_OF_LIFE},
    )
    asked = model_requests() - before
    if result.error is None:  # it wrote (almost) nothing, which the guard allows
        assert asked >= 1
        assert len(str(result.completed.get("content") or "").encode()) <= 4
        return
    assert asked == 3  # the first answer and two retries, each answered by the server
    # The last refusal names the rule: content-size for a text too long, schema for an answer cut
    # at the token bound (which a model this small also writes).
    assert re.search(r"\(rule: (content-size|schema)\)", result.error), result.error


@pytest.mark.timeout(900)
def test_cli_apply_with_the_model_then_a_rerun_asks_nothing(
    model_server: ModelServer, cli: CliRunner, workdir: Path
) -> None:
    target = workdir / "date.sh"
    manifest = write_resources(
        workdir / "m.yaml", file_resource("date", path=str(target), description="a shell script that prints the date")
    )
    env = {
        "CW_MODEL": ALIAS, "CW_BASE_URL": model_server.url, "CW_ALLOWED_ROOTS": str(workdir),
        "CW_COMPLETION_TIMEOUT": "150", "CW_METRICS_FILE": str(workdir / "metrics.prom"),
        "CW_COMPLETION_MAX_TOKENS": str(MAX_TOKENS),
    }  # fmt: skip
    first = cli("apply", "-f", str(manifest), "-o", "json", env=env, timeout=900)
    assert first.code in (0, 1), first.stderr
    [outcome] = first.json()
    completed = next(c for c in outcome["status"]["conditions"] if c["type"] == "Completed")
    assert completed["reason"] != "CompletionUnavailable", completed  # the server answered in time
    if completed["status"] == "True":
        assert first.code == 0 and target.exists()
    else:  # refused or left open: said with the field, nothing written
        assert completed["reason"] in ("CompletionRejected", "MissingValues", "GuardRejected", "Invalid"), completed
        assert "spec." in completed["message"] and not target.exists()
    assert metric(workdir / "metrics.prom") >= 1

    again = cli("apply", "-f", str(manifest), "-o", "json", env=env, timeout=300)
    assert again.code == first.code, again.stderr
    assert metric(workdir / "metrics.prom") == 0  # the completion is cached: the model is not asked


def metric(path: Path) -> float:
    for line in path.read_text().splitlines():
        if line.startswith("clockwork_completion_model_requests_total{") and f'model="{ALIAS}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.timeout(900)
def test_remediation_re_completes_with_the_diagnostics(model_server: ModelServer, workdir: Path) -> None:
    """A File whose content must hold one exact line. Whatever the model writes first, the check
    decides: it heals (at once, or by re-completion with the failure as diagnostics) or it ends
    in RemediationExhausted with the diagnostics kept in the condition."""
    target = workdir / "app.conf"
    manifest = write_resources(
        workdir / "m.yaml",
        file_resource(
            "app", path=str(target), mode="0644", description="an app config file with the single line: port = 8080",
            health={"intervalSeconds": 1, "assertions": [
                {"type": "fileContent", "name": "port line", "path": str(target), "matches": "^port = 8080$"},
            ]},
            remediation={"maxAttempts": 2, "backoffSeconds": 1},
        ),
    )  # fmt: skip
    env = {"CW_MODEL": ALIAS, "CW_BASE_URL": model_server.url, "CW_ALLOWED_ROOTS": str(workdir),
           "CW_COMPLETION_TIMEOUT": "150", "CW_COMPLETION_MAX_TOKENS": str(MAX_TOKENS)}  # fmt: skip

    with watching(workdir, manifest, env) as watch:
        found = watch.wait_for(lambda r: r["resource"] == "File/default/app" and decided(r), 600)
    completed = condition(found, "Completed")
    assert completed is not None
    if completed["status"] == "False":  # refused, said with the field and the rule, nothing written
        assert completed["reason"] in REFUSED and "spec." in completed["message"], completed
        assert not target.exists()
        return
    healthy = condition(found, "Healthy")
    assert healthy is not None
    started = [e for line in watch.lines for e in line["events"] if e["reason"] == "RemediationStarted"]
    if healthy["status"] == "True":
        assert re.search(r"(?m)^port = 8080$", target.read_text())  # the check's own judgement, read again
        assert any(e["reason"] == "Remediated" for line in watch.lines for e in line["events"]) or not started
    else:
        # Given up: the condition keeps what failed, and the model was asked again with it.
        assert "does not match /^port = 8080$/" in healthy["message"], healthy
        assert started and "does not match" in started[0]["message"]
        filled = found["status"]["completion"]["filled"]
        assert any(f["field"] == "content" and f["source"] == "ai" for f in filled)


@pytest.mark.timeout(900)
def test_containers_remediated_from_their_diagnostics(model_server: ModelServer, workdir: Path,
                                                        docker_engine: None) -> None:  # fmt: skip
    """Two Containers of the test image (it listens on $PORT, 8080 unset), env left to the model.

    "web" maps port 9090 inside, and its description says the app must listen there: the
    model sets PORT from it, or the check finds nothing answering and the failure goes back
    to it as diagnostics. It heals (answered through its port, PORT=9090 in the container)
    or gives up with what failed kept. "broken" asks /status/503: no value remediation may
    change (env; not the image, the ports or the command) fixes that, so it always ends in
    RemediationExhausted with the 503 in the condition and in what the model was given.
    """
    web_port, broken_port = free_port(), free_port()
    names = {"web": f"cw-model-web-{uuid.uuid4().hex[:8]}", "broken": f"cw-model-broken-{uuid.uuid4().hex[:8]}"}

    def container(key: str, port: int, inside: int, check: str, description: str) -> dict[str, Any]:
        return resource(  # the command given: a model's command waits for a person (the review tier)
            "Container", key, name=names[key], image=HTTP_IMAGE, command="python3 /srv/serve.py",
            description=description,
            ports=[{"host": port, "container": inside, "hostIp": "127.0.0.1"}], httpCheck={"path": check},
            health={"intervalSeconds": 1, "startupSeconds": 2}, remediation={"maxAttempts": 1, "backoffSeconds": 1},
        )  # fmt: skip

    manifest = write_resources(workdir / "m.yaml",
        container("web", web_port, 9090, "/healthz",
                  "the test web app; it listens on the port in its environment variable PORT, which must be 9090"),
        container("broken", broken_port, 8080, "/status/503", "the test web app"),
    )  # fmt: skip
    env = {"CW_MODEL": ALIAS, "CW_BASE_URL": model_server.url, "CW_COMPLETION_TIMEOUT": "150",
           "CW_COMPLETION_MAX_TOKENS": str(MAX_TOKENS)}  # fmt: skip

    ended: dict[str, dict[str, Any]] = {}

    def both_decided(record: dict[str, Any]) -> bool:
        if decided(record) or any(e["reason"] == "AwaitingApproval" for e in record["events"]):
            ended.setdefault(record["resource"].rsplit("/", 1)[1], record)
        return set(ended) == {"web", "broken"}

    try:
        with watching(workdir, manifest, env) as watch:
            watch.wait_for(both_decided, 480)
            events = {key: [e for line in watch.lines if line["resource"].endswith("/" + key) for e in line["events"]]
                      for key in names}  # fmt: skip
        for key, found in ended.items():
            completed = condition(found, "Completed")
            waiting = [e["message"] for e in found["events"] if e["reason"] == "AwaitingApproval"]
            if waiting or (completed is not None and completed["status"] == "False"):
                # refused, or a value beyond the safe tier waits for a person: named, and nothing started
                assert waiting or (completed and completed["reason"] in REFUSED), completed
                assert all("spec." in m for m in waiting) and (waiting or "spec." in completed["message"])
                assert docker("container", "inspect", names[key]).returncode != 0
                continue
            assert completed is not None
            healthy = condition(found, "Healthy")
            assert healthy is not None
            started = [e["message"] for e in events[key] if e["reason"] == "RemediationStarted"]
            if key == "broken":
                assert healthy["reason"] == "RemediationExhausted", healthy
                assert "answered 503, want 200" in healthy["message"] and "answered 503" in started[0], (
                    healthy,
                    started,
                )
            elif healthy["status"] == "True":  # the check's own judgement, asked again here
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=5) as answer:
                    assert answer.status == 200
                inspected = docker("inspect", "-f", "{{json .Config.Env}}", names["web"]).stdout
                assert "PORT=9090" in json.loads(inspected)
            else:
                assert healthy["reason"] == "RemediationExhausted" and started, (healthy, started)
                assert f"127.0.0.1:{web_port}" in healthy["message"], healthy
    finally:
        for name in names.values():
            docker("rm", "-f", name)
