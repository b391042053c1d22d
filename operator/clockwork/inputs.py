"""Reading the YAML (or JSON) files users give, within bounds.

Every file is untrusted input: before anything is built from it, its size, the
depth of its nesting and the number of nodes it expands to (aliases counted as
often as they are used: a "billion laughs" document is refused, not expanded) are
checked on the parser's event stream, which needs no recursion. The documents are
then built by a safe loader that also refuses duplicate keys (instead of silently
keeping the last) and integers longer than any field takes. Each problem names the
file, the line and the limit.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml import events, nodes

# Kubernetes objects are at most ~1.5 MiB; a file may hold many.
DEFAULT_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    # CW_MAX_INPUT_BYTES: largest file read.
    max_bytes: int = DEFAULT_MAX_BYTES
    # Deepest nesting of mappings and lists (a resource needs about 10).
    max_depth: int = 64
    # Nodes one document may expand to, aliases counted each time they are used.
    max_nodes: int = 100_000
    # Digits of an integer (an int64 has at most 19).
    max_digits: int = 24


class InputError(Exception):
    """A file that cannot be read as documents; the message names file, line and rule."""


def read_documents(path: Path, limits: Limits | None = None) -> list[Any]:
    """The documents of one file, or :class:`InputError`."""
    limits = limits or Limits()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if size > limits.max_bytes:
        raise InputError(
            f"{path}: {size} bytes is larger than the {limits.max_bytes} bytes allowed (CW_MAX_INPUT_BYTES)"
        )
    try:
        with path.open("rb") as handle:
            raw = handle.read(limits.max_bytes + 1)
        text = raw.decode("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start + 1})") from None
    return parse_documents(text, str(path), limits)


def parse_documents(text: str, source: str, limits: Limits | None = None) -> list[Any]:
    """The documents of ``text`` (named ``source`` in messages), or :class:`InputError`."""
    limits = limits or Limits()
    if len(text.encode()) > limits.max_bytes:
        raise InputError(f"{source}: larger than the {limits.max_bytes} bytes allowed (CW_MAX_INPUT_BYTES)")
    try:
        _scan(_stream(text, source), source, limits)
        loader = _Loader(_stream(text, source))
        loader.limits = limits
        try:
            documents = []
            while loader.check_data():  # type: ignore[no-untyped-call]
                documents.append(loader.get_data())
            return documents
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise InputError(f"{source}:{_line(exc)}: not valid YAML: {_problem(exc)}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: not valid YAML: {exc}") from None


def _stream(text: str, source: str) -> io.StringIO:
    stream = io.StringIO(text)
    stream.name = source  # PyYAML names the stream in its marks
    return stream


def _line(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    return f"{mark.line + 1}" if mark is not None else "?"


def _problem(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    return "; ".join(parts) or "syntax error"


def _at(source: str, event: events.Event) -> str:
    mark = event.start_mark
    return f"{source}:{mark.line + 1}" if mark is not None else source


def _scan(stream: io.StringIO, source: str, limits: Limits) -> None:
    """Depth and expanded size of every document, from the event stream (no recursion)."""
    open_sizes: list[list[Any]] = []  # [subtree nodes, anchor] per open collection
    anchors: dict[str, int] = {}
    total = 0
    for event in yaml.parse(stream, Loader=yaml.SafeLoader):
        added = 0
        if isinstance(event, events.DocumentStartEvent):
            anchors, total = {}, 0
            continue
        if isinstance(event, events.MappingStartEvent | events.SequenceStartEvent):
            open_sizes.append([1, event.anchor])
            if len(open_sizes) > limits.max_depth:
                raise InputError(f"{_at(source, event)}: nested deeper than {limits.max_depth} levels")
            added = 1
        elif isinstance(event, events.AliasEvent) and any(event.anchor == a for _, a in open_sizes):
            raise InputError(f"{_at(source, event)}: the alias *{event.anchor} refers to a value that contains it")
        elif isinstance(event, events.MappingEndEvent | events.SequenceEndEvent):
            size, anchor = open_sizes.pop()
            if anchor:
                anchors[anchor] = size
            if open_sizes:
                open_sizes[-1][0] += size
            continue
        elif isinstance(event, events.ScalarEvent):
            added = 1
            if event.anchor:
                anchors[event.anchor] = 1
            if open_sizes:
                open_sizes[-1][0] += 1
        elif isinstance(event, events.AliasEvent):
            added = anchors.get(event.anchor or "", 1)
            if open_sizes:
                open_sizes[-1][0] += added
        total += added
        if total > limits.max_nodes:
            raise InputError(
                f"{_at(source, event)}: the document expands to more than {limits.max_nodes} values "
                "(aliases count each time they are used)"
            )


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and over-long integers."""

    limits: Limits = Limits()

    def construct_mapping(self, node: nodes.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class says so
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {first})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: nodes.ScalarNode) -> int:
        value = str(self.construct_scalar(node))
        digits = sum(ch.isdigit() or ch in "abcdefABCDEF" for ch in value)
        if digits > self.limits.max_digits:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits} digits is longer than {self.limits.max_digits}", node.start_mark
            )
        return int(super().construct_yaml_int(node))


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
