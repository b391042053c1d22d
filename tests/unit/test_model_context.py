"""What a model sees: no secret values, no passwords in URLs, nothing of opted-out resources.

Covers: the resource's own env values, file content, template variables and
entry-point parameters shown by shape only in the prompt; related resources the
same, and those with completion: off reduced to kind and name; URLs with a password
masked in the prompt and in every message a completer returns; the prompt checked
on the wire through pydantic-ai's FunctionModel (what the model really received).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from clockwork.api.registry import KINDS
from clockwork.completion import context, pipeline
from clockwork.completion.ai import AICompleter
from clockwork.completion.base import CompletionContext
from clockwork.completion.guard import GuardPolicy
from clockwork.text import redact_url
from tests.helpers import free_port

SECRET = "s3cr3t-value-9f2c"


def test_secret_fields_are_shown_by_their_shape() -> None:
    shown = context.shown_spec("Container", {"image": "app:1", "env": {"DB_PASSWORD": SECRET, "MODE": "x"}})
    assert shown == {"image": "app:1", "env": {"DB_PASSWORD": "(secret)", "MODE": "(secret)"}}
    shown = context.shown_spec("File", {"path": "/srv/a", "content": SECRET, "mode": "0600"})
    assert shown["content"] == f"(secret: {len(SECRET)} characters)"
    shown = context.shown_spec("File", {"template": "{{ x }}", "variables": {"x": SECRET}})
    assert SECRET not in json.dumps(shown)
    shown = context.shown_spec("Workload", {"module": "m", "entryPoint": "f", "params": {"token": SECRET}})
    assert shown["params"] == {"token": "(secret)"}


def test_urls_lose_their_password_and_long_text_is_cut() -> None:
    shown = context.shown_spec("GitRepo", {"url": f"https://deploy:{SECRET}@git.example/app.git"})
    assert shown["url"] == "https://deploy:***@git.example/app.git"
    assert len(context.shown_spec("File", {"description": "x" * 5000})["description"]) <= context.TEXT_LIMIT + 1
    assert redact_url(f"see http://u:{SECRET}@h:8/v1 and ftp://a:b@c") == "see http://u:***@h:8/v1 and ftp://a:***@c"


def test_opted_out_resources_give_kind_and_name_only() -> None:
    spec = {"path": "/srv/x", "content": "private", "completion": {"mode": "off"}}
    assert context.related("File", "x", spec) == {"kind": "File", "name": "x"}
    assert context.related("File", "x", spec, dependency=True) == {"kind": "File", "name": "x", "dependency": True}
    assert context.related("File", "y", {"path": "/srv/y"})["spec"] == {"path": "/srv/y"}


class Capture:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.prompts: list[str] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.prompts.append(json.dumps([m.model_dump(mode="json") if hasattr(m, "model_dump") else str(m)
                                        for m in messages], default=str))  # fmt: skip
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, self.answer)])


def test_what_reaches_the_model_holds_no_secret() -> None:
    capture = Capture({"image": "redis:7.4-alpine"})
    completer = AICompleter(FunctionModel(capture, model_name="m"), model_name="m", policy=GuardPolicy())
    related = [
        context.related("Container", "db", {"image": "postgres:16", "env": {"POSTGRES_PASSWORD": SECRET}}),
        context.related("File", "key", {"path": "/srv/k", "content": SECRET, "completion": {"mode": "off"}}),
    ]
    spec = {"description": "a cache", "env": {"REDIS_PASSWORD": SECRET}, "command": f"redis --url redis://a:{SECRET}@h"}
    ctx = CompletionContext(name="cache", related=related, diagnostics=f"failed at http://x:{SECRET}@h/")
    result = asyncio.run(pipeline.complete(KINDS["Container"], spec, ctx, completer))
    assert result.completed["image"] == "redis:7.4-alpine"
    assert capture.prompts and SECRET not in capture.prompts[0]
    assert "REDIS_PASSWORD" in capture.prompts[0] and "POSTGRES_PASSWORD" in capture.prompts[0]


def test_messages_from_an_endpoint_with_credentials_are_masked() -> None:
    port = free_port()
    completer = AICompleter.openai_compatible(
        "m", base_url=f"http://user:{SECRET}@127.0.0.1:{port}/v1", api_key=None, policy=GuardPolicy(), timeout=2
    )
    assert SECRET not in completer.endpoint

    async def once() -> Any:
        from pydantic_ai.models import override_allow_model_requests

        with override_allow_model_requests(True):
            try:
                return await pipeline.complete(
                    KINDS["File"], {"path": "/srv/a"}, CompletionContext(name="a"), completer
                )
            finally:
                await completer.aclose()

    result = asyncio.run(once())
    assert result.temporary_error is not None
    assert SECRET not in result.temporary_error
    assert f"user:***@127.0.0.1:{port}" in result.temporary_error
