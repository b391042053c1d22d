"""An OpenAI-compatible chat-completions endpoint on 127.0.0.1 with scripted replies.

Proves the real HTTP path of the AI completer (pydantic-ai -> openai client ->
HTTP) without any provider: each request takes the next step of the script —
a tool call with given arguments, an HTTP error, or a delay — and every request
body is kept for assertions. Runs in a thread with its own event loop so that a
separate ``clockwork`` process can use it too.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Step:
    """One scripted reply: tool-call arguments, or an HTTP status, after an optional delay."""

    arguments: dict[str, Any] | None = None
    status: int = 200
    delay: float = 0.0
    error: str = "scripted error"


@dataclass
class FakeOpenAI:
    script: list[Step]
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    url: str = ""

    def next_step(self) -> Step:
        index = min(len(self.requests) - 1, len(self.script) - 1)
        return self.script[index]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.auth_headers.append(request.headers.get("Authorization", ""))
        refused = self.refusal(body)
        if refused:
            return web.json_response({"error": {"message": refused, "type": "server_error", "code": 500}}, status=500)
        step = self.next_step()
        if step.delay:
            await asyncio.sleep(step.delay)
        if step.status != 200:
            return web.json_response(
                {"error": {"message": step.error, "type": "invalid_request_error", "code": step.status}},
                status=step.status,
            )
        tool = body["tools"][0]["function"]["name"]
        reply = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": f"call_{len(self.requests)}",
                                "type": "function",
                                "function": {"name": tool, "arguments": json.dumps(step.arguments or {})},
                            }
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }
        return web.json_response(reply)

    @staticmethod
    def refusal(body: dict[str, Any]) -> str | None:
        """What llama-cpp-python's server answers HTTP 500 to (checked there, 0.3.36): a
        ``tool_choice`` of "required", and an assistant turn with ``content: null``. Like that
        server, this one also takes no ``role: tool`` message (that one drops it)."""
        if body.get("tool_choice") == "required":
            return "tool_choice must be 'auto' or a named function"
        for message in body.get("messages") or []:
            if message.get("role") == "assistant" and message.get("content") is None:
                return "unsupported content: None"
            if message.get("role") == "tool":
                return "role 'tool' is not supported by this chat format"
        return None

    def retry_feedback(self, index: int) -> str:
        """Why request ``index`` asked again: what the model was told of its last answer."""
        messages = self.requests[index]["messages"]
        return "\n".join(
            str(m.get("content")) for m in messages if m.get("role") == "user" and "not accepted" in str(m["content"])
        )


@contextmanager
def serve(script: list[Step]) -> Iterator[FakeOpenAI]:
    """Serve the script on a free 127.0.0.1 port until the block ends."""
    fake = FakeOpenAI(script)
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    runner = web.AppRunner(app)
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        fake.url = f"http://127.0.0.1:{port}/v1"
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("fake OpenAI endpoint did not start")
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
