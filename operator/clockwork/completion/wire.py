"""What goes over the wire to an OpenAI-compatible server, made to work with the real ones.

The model client speaks OpenAI's Chat Completions dialect; local servers (llama.cpp,
Ollama, LM Studio, vLLM) implement parts of it, differently. This transport sits under
the client and rewrites each chat request into the subset they all take, and each answer
back into what the client expects:

- **One output tool is named, not "required".** A forced call of the only tool is sent
  as ``tool_choice: {"type": "function", "function": {"name": ...}}``: OpenAI and vLLM
  take both forms; llama-cpp-python's function-calling handler refuses "required" (HTTP
  500) and Ollama accepts it without enforcing it, while both constrain a named call to
  the tool's schema.
- **A retry carries no tool-call history.** The client sends a rejected answer back as an
  assistant turn with ``tool_calls`` and ``content: null`` plus a ``role: tool`` message
  with the reason. llama-cpp-python answers the first with HTTP 500 and drops the second
  from the prompt, so the model never learns why it is asked again. Both are sent as
  plain turns instead: the assistant's answer as its JSON text, the reason as a user
  message. Every server takes that, and the model reads the same thing.
- **JSON-object output** (output mode ``json-object``): ``response_format`` with a JSON
  schema goes out as ``{"type": "json_object", "schema": ...}``, the form llama.cpp's
  Python server constrains by grammar (it refuses ``json_schema``).
- **Every pattern is anchored.** llama.cpp turns a JSON schema into a grammar only when
  each ``pattern`` starts with ``^`` and ends with ``$``; one that does not (``^/``: "starts
  with a slash") makes it drop the whole schema and let the model write any JSON. Patterns
  go out as the full-match form that means the same (``^/.*$``).
- **Only the regex a grammar can take.** ``\\s``, ``\\d`` and ``\\w`` are spelled out as
  characters (llama.cpp's grammar parser knows none of them, and the server dies on a
  grammar it cannot parse); a pattern with more than that is left out of what is sent.
- **No huge length bounds.** llama.cpp unrolls ``maxLength: 262144`` into as many nested
  grammar rules and overflows its stack (the server dies). Bounds above
  :data:`GRAMMAR_BOUND` are left out of what is sent; Clockwork checks them on the answer.
- **Tool names come back clean**: a trailing colon some servers leave on a function name
  in ``auto`` mode is dropped.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx2 as httpx

OutputMode = Literal["tool", "native", "json-object", "prompted"]
# The output mode of a request, from the completer to this transport (never sent on).
MODE_HEADER = "X-Clockwork-Output-Mode"


_SHORTHAND = {"s": " \\t\\n\\r", "d": "0-9", "w": "A-Za-z0-9_"}


def plain_pattern(pattern: str) -> str | None:
    """The pattern in the regex subset llama.cpp's grammar takes (``\\s``, ``\\d``, ``\\w``
    spelled out as characters), or None when it uses more (lookarounds, ``\\b``, ``\\S``):
    such a pattern is left out of what is sent, and checked by Clockwork on the answer."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped in _SHORTHAND:
                chars = _SHORTHAND[escaped]
                out.append(chars if in_class else f"[{chars}]")
            elif escaped.isalpha() and escaped not in "tnrfvx":
                return None
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "(" and pattern[i + 1 : i + 2] == "?":
            return None
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def anchored(pattern: str) -> str:
    """The same pattern as a full match: ``^...$`` (JSON Schema patterns match anywhere)."""
    if pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern
    inner = pattern[1:] if pattern.startswith("^") else ".*" + pattern
    inner = inner[:-1] if inner.endswith("$") and not inner.endswith("\\$") else inner + ".*"
    return f"^({inner})$" if "|" in inner else f"^{inner}$"


# The largest length bound sent to a server (a grammar rule per unit of it, in llama.cpp).
GRAMMAR_BOUND = 32
_BOUNDS = ("maxLength", "maxItems", "maxProperties")


def wire_schema(schema: Any) -> Any:
    """A JSON schema (a copy) as a grammar-building server takes it: every ``pattern``
    anchored, no length bound above :data:`GRAMMAR_BOUND`."""
    if isinstance(schema, dict):
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                plain = plain_pattern(value)
                if plain is not None:
                    out[key] = anchored(plain)
            elif key in _BOUNDS and isinstance(value, int) and value > GRAMMAR_BOUND:
                continue
            else:
                out[key] = wire_schema(value)
        return out
    if isinstance(schema, list):
        return [wire_schema(v) for v in schema]
    return schema


def rewrite_request(body: dict[str, Any], mode: OutputMode) -> dict[str, Any]:
    """The chat request as every server takes it (a new dict; ``body`` is not changed)."""
    out = dict(body)
    tools = out["tools"] = wire_schema(out.get("tools")) or []
    if not tools:
        del out["tools"]
    if out.get("tool_choice") == "required" and len(tools) == 1:
        out["tool_choice"] = {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
    out["messages"] = flat_history(out.get("messages") or [])
    response_format = out.get("response_format")
    if isinstance(response_format, dict):
        response_format = out["response_format"] = wire_schema(response_format)
    if mode == "json-object" and isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        out["response_format"] = {"type": "json_object", "schema": response_format["json_schema"]["schema"]}
    return out


def flat_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls and tool results as plain assistant and user turns."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "assistant" and message.get("tool_calls"):
            calls = [c["function"]["arguments"] for c in message["tool_calls"] if c.get("type") == "function"]
            text = message.get("content") or ""
            out.append({"role": "assistant", "content": "\n".join([text, *calls]).strip()})
        elif role == "tool":
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
            out.append({"role": "user", "content": f"Your answer was not accepted. {text}"})
        else:
            out.append(message)
    return _merged(out)


def _merged(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two user turns in a row (a tool result, then a retry prompt) as one: some chat
    templates insist that user and assistant alternate."""
    out: list[dict[str, Any]] = []
    for message in messages:
        previous = out[-1] if out else None
        if (
            previous is not None
            and previous.get("role") == message.get("role") == "user"
            and isinstance(previous.get("content"), str)
            and isinstance(message.get("content"), str)
        ):
            out[-1] = {**previous, "content": f"{previous['content']}\n\n{message['content']}"}
        else:
            out.append(message)
    return out


def clean_answer(body: dict[str, Any]) -> dict[str, Any]:
    """The answer with each function name as the tool was named (no trailing colon)."""
    for choice in body.get("choices") or []:
        message = choice.get("message") or {}
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            if isinstance(function.get("name"), str):
                function["name"] = function["name"].strip().rstrip(":").strip()
        legacy = message.get("function_call")
        if isinstance(legacy, dict) and isinstance(legacy.get("name"), str):
            legacy["name"] = legacy["name"].strip().rstrip(":").strip()
    return body


class CompatTransport(httpx.AsyncBaseTransport):
    """Rewrites chat requests and answers around another transport (see the module)."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        mode: OutputMode = request.headers.get(MODE_HEADER, "tool")  # type: ignore[assignment]
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return await self._inner.handle_async_request(request)
        body = json.loads(await request.aread())
        content = json.dumps(rewrite_request(body, mode)).encode()
        dropped = (b"content-length", MODE_HEADER.lower().encode())
        headers = [(k, v) for k, v in request.headers.raw if k.lower() not in dropped]
        sent = httpx.Request(
            request.method, request.url, headers=[*headers, (b"content-length", str(len(content)).encode())],
            content=content, extensions=request.extensions,
        )  # fmt: skip
        response = await self._inner.handle_async_request(sent)
        if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
            return response
        raw = await response.aread()
        await response.aclose()
        try:
            answer = json.dumps(clean_answer(json.loads(raw))).encode()
        except (ValueError, AttributeError, TypeError):
            answer = raw  # not ours to judge here: the client reports what it cannot read
        headers = [(k, v) for k, v in response.headers.raw if k.lower() not in (b"content-length", b"content-encoding")]
        return httpx.Response(
            response.status_code, headers=[*headers, (b"content-length", str(len(answer)).encode())],
            content=answer, extensions=response.extensions, request=sent,
        )  # fmt: skip

    async def aclose(self) -> None:
        await self._inner.aclose()
