"""What goes over the wire to a model server (clockwork.completion.wire): requests in, the
form every server takes out; answers in, what the client expects out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clockwork.completion import wire

TOOL = {"type": "function", "function": {"name": "complete", "parameters": {"type": "object"}}}
CALL = {"id": "c1", "type": "function", "function": {"name": "complete", "arguments": '{"mode": "999"}'}}
FEEDBACK = "mode: String should match pattern. Fix the errors and try again."
SCHEMA = {"type": "object", "properties": {"mode": {"type": "string", "pattern": "^0[0-7]{3}$"}}}


def _retry_body() -> dict[str, Any]:
    """What the OpenAI client sends when a tool answer was rejected (pydantic-ai's retry)."""
    return {
        "model": "m",
        "tools": [TOOL],
        "tool_choice": "required",
        "messages": [
            {"role": "system", "content": "rules"},
            {"role": "user", "content": "the resource"},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "c1", "content": FEEDBACK},
        ],
    }  # fmt: skip


def test_the_only_tool_is_named_instead_of_required() -> None:
    out = wire.rewrite_request(_retry_body(), "tool")
    assert out["tool_choice"] == {"type": "function", "function": {"name": "complete"}}


def test_required_with_several_tools_is_left_for_the_server() -> None:
    body = {**_retry_body(), "tools": [TOOL, {**TOOL, "function": {"name": "other"}}]}
    assert wire.rewrite_request(body, "tool")["tool_choice"] == "required"


def test_a_retry_goes_out_as_plain_turns_the_model_can_read() -> None:
    out = wire.rewrite_request(_retry_body(), "tool")
    assert out["messages"] == [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "the resource"},
        {"role": "assistant", "content": '{"mode": "999"}'},
        {"role": "user", "content": "Your answer was not accepted. mode: String should match pattern. "
                                    "Fix the errors and try again."},
    ]  # fmt: skip
    assert all(m.get("content") is not None and m["role"] != "tool" for m in out["messages"])


def test_two_user_turns_in_a_row_become_one() -> None:
    body = _retry_body()
    body["messages"].append({"role": "user", "content": "Please answer again."})
    last = wire.rewrite_request(body, "tool")["messages"][-1]
    assert last["role"] == "user" and last["content"].endswith("try again.\n\nPlease answer again.")
    assert [m["role"] for m in wire.rewrite_request(body, "tool")["messages"]][-2:] == ["assistant", "user"]


@pytest.mark.parametrize(("mode", "expected"), [
    ("json-object", {"type": "json_object", "schema": SCHEMA}),
    ("native", {"type": "json_schema", "json_schema": {"name": "out", "schema": SCHEMA}}),
])  # fmt: skip
def test_a_json_schema_goes_out_as_json_object_only_in_that_mode(mode: wire.OutputMode, expected: Any) -> None:
    body = {
        "messages": [],
        "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": SCHEMA}},
    }
    assert wire.rewrite_request(body, mode)["response_format"] == expected


def test_the_request_given_is_not_changed() -> None:
    body = _retry_body()
    before = json.dumps(body)
    wire.rewrite_request(body, "json-object")
    assert json.dumps(body) == before


def test_function_names_come_back_without_a_trailing_colon() -> None:
    answer = {"choices": [{"message": {
        "tool_calls": [{"type": "function", "function": {"name": "complete:", "arguments": "{}"}}],
        "function_call": {"name": "complete: ", "arguments": "{}"},
    }}]}  # fmt: skip
    message = wire.clean_answer(answer)["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["name"] == "complete"
    assert message["function_call"]["name"] == "complete"


@pytest.mark.parametrize(
    ("pattern", "sent"),
    [
        ("^/", "^/.*$"),  # "starts with a slash", as the full match llama.cpp's grammar needs
        ("^[0-7]{3,4}$", "^[0-7]{3,4}$"),
        ("^/[^\\s;]*$", "^/[^ \\t\\n\\r;]*$"),  # \s spelled out inside a class
        ("^\\d+$", "^[0-9]+$"),  # and outside one
        ("abc", "^.*abc.*$"),
        ("^a$|^b$", "^a$|^b$"),
        ("^(?!root$)[a-z]+$", None),  # a lookahead: left out, checked by Clockwork
        ("^\\bword$", None),
    ],
)
def test_patterns_go_out_in_the_regex_a_grammar_takes(pattern: str, sent: str | None) -> None:
    out = wire.wire_schema({"type": "string", "pattern": pattern})
    assert out.get("pattern") == sent


def test_huge_length_bounds_are_left_out_and_small_ones_kept() -> None:
    schema = {"properties": {"content": {"type": "string", "maxLength": 262144},
                             "name": {"type": "string", "maxLength": 31},
                             "ports": {"type": "array", "maxItems": 64, "items": {"type": "integer"}}}}  # fmt: skip
    out = wire.wire_schema(schema)["properties"]
    assert "maxLength" not in out["content"] and out["name"]["maxLength"] == 31
    assert "maxItems" not in out["ports"] and out["ports"]["items"] == {"type": "integer"}


def test_the_tools_parameters_go_out_as_a_grammar_takes_them() -> None:
    tool = {"type": "function", "function": {"name": "complete", "parameters": {
        "type": "object", "properties": {"path": {"type": "string", "pattern": "^/"}}}}}  # fmt: skip
    out = wire.rewrite_request({"messages": [], "tools": [tool]}, "tool")
    assert out["tools"][0]["function"]["parameters"]["properties"]["path"]["pattern"] == "^/.*$"
    assert "tools" not in wire.rewrite_request({"messages": []}, "tool")
