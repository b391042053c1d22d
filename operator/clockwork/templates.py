"""Rendering a File's Jinja2 template within bounds.

A template is code from a spec (or a completer) and runs in the operator and the
CLI, so it runs in Jinja's immutable sandbox (no attribute tricks, no mutating
lists or dicts) with limits on everything that costs memory or time:

- the output, and every intermediate string or list (``'x' * 10**10``,
  ``'%099999999d'|format(1)``, a namespace value doubled in a loop) — at most
  :data:`MAX_VALUE` characters or items; integer arguments of filters and methods
  at most :data:`MAX_ARGUMENT`; powers at most :data:`MAX_INT_BITS` bits;
- the work: every line the template's code executes counts against a budget of
  :data:`MAX_STEPS`, and rendering stops after :data:`MAX_SECONDS` (nested
  ``range(100000)`` loops stop there, wherever they are).

Exceeding a limit is a :class:`ValueError` naming the limit, which the File model
turns into a field error (exit 2 in the CLI, Completed=False in the operator).
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

MAX_OUTPUT = 256 * 1024
MAX_VALUE = 1024 * 1024
MAX_ARGUMENT = 100_000
MAX_INT_BITS = 4096
MAX_STEPS = 1_000_000
MAX_SECONDS = 2.0
_WIDE_FORMAT = re.compile(r"%[-#0 +]*\d{6,}|\{[^{}]*:[^{}]*\d{6,}[^{}]*\}")


class TemplateLimit(TemplateError):
    """Rendering went past one of the limits."""


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple | dict | set) else 0


def _check_value(value: Any) -> Any:
    if _size(value) > MAX_VALUE:
        raise TemplateLimit(f"a value of {_size(value)} characters or items is larger than {MAX_VALUE} allowed")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimit(f"an integer of {value.bit_length()} bits is larger than {MAX_INT_BITS} allowed")
    return value


def _check_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_ARGUMENT:
            raise TemplateLimit(f"the argument {arg} is larger than {MAX_ARGUMENT} allowed")
        if isinstance(arg, str) and _WIDE_FORMAT.search(arg):
            raise TemplateLimit("a format with a field width above 99999 is not allowed")
        _check_value(arg)


class _BoundedNamespace(Namespace):
    """``namespace()``: values assigned in loops are checked too (a value doubled each time)."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, _check_value(value))


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self.globals["namespace"] = _BoundedNamespace
        self.filters = {name: _bounded(fn) for name, fn in self.filters.items()}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and isinstance(right, int) and _size(left) * max(right, 0) > MAX_VALUE:
            raise TemplateLimit(f"repeating {_size(left)} characters or items {right} times is too large")
        if operator == "*" and isinstance(left, int) and _size(right) * max(left, 0) > MAX_VALUE:
            raise TemplateLimit(f"repeating {_size(right)} characters or items {left} times is too large")
        if operator == "**" and isinstance(left, int | float) and isinstance(right, int | float):
            base = abs(left)
            if base > 1 and right * math.log2(base) > MAX_INT_BITS:
                raise TemplateLimit(f"{left} ** {right} is larger than {MAX_INT_BITS} bits")
        if operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
            raise TemplateLimit("a format with a field width above 99999 is not allowed")
        if operator == "+" and _size(left) + _size(right) > MAX_VALUE:
            raise TemplateLimit("joining these values would be larger than allowed")
        return _check_value(super().call_binop(context, operator, left, right))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_arguments(args, kwargs)
        _check_value(getattr(__obj, "__self__", None))
        return _check_value(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        owner = getattr(value, "__self__", None)
        if wrapped is not None and isinstance(owner, str) and _WIDE_FORMAT.search(owner):

            def refuse(*args: Any, **kwargs: Any) -> str:  # '{:>999999999}'.format(1)
                raise TemplateLimit("a format with a field width above 99999 is not allowed")

            return refuse
        return wrapped


def _bounded(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)  # keeps Jinja's pass_context/pass_environment marks
    def run(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(tuple(a for a in args if not _is_jinja_object(a)), kwargs)
        return _check_value(fn(*args, **kwargs))

    return run


def _is_jinja_object(value: Any) -> bool:
    module = type(value).__module__
    return module.startswith("jinja2")


class _Budget:
    """Counts the lines the template's own code executes (sys.settrace, this thread only)."""

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            return self._line if frame.f_code.co_filename == "<template>" else None
        return None

    def _line(self, frame: FrameType, event: str, arg: Any) -> Any:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateLimit(f"the template ran more than {MAX_STEPS} steps")
        if self.steps % 1024 == 0 and time.monotonic() > self.deadline:
            raise TemplateLimit(f"the template took longer than {MAX_SECONDS:g} seconds")
        return self._line


def render(template: str, variables: dict[str, Any]) -> str:
    """The rendered text; ValueError ("template: ...") for errors and exceeded limits."""
    return _render(template, json.dumps(variables, sort_keys=True, default=str))


@functools.lru_cache(maxsize=64)
def _render(template: str, variables_json: str) -> str:
    # Validation renders a spec's template whenever the spec is read: the same template
    # and variables are rendered once.
    environment = _Environment()
    budget = _Budget()
    previous = sys.gettrace()
    sys.settrace(budget)
    try:
        compiled = environment.from_string(template)
        size = 0
        parts: list[str] = []
        for part in compiled.generate(**json.loads(variables_json)):
            size += len(part)
            if size > MAX_OUTPUT:
                raise TemplateLimit(f"the output is larger than {MAX_OUTPUT} characters")
            parts.append(part)
        return "".join(parts)
    except TemplateError as exc:
        raise ValueError(f"template: {exc}") from None
    except Exception as exc:  # {{ 1/0 }}, a bad filter argument: the template's fault, not ours
        raise ValueError(f"template: {type(exc).__name__}: {exc}"[:500]) from None
    finally:
        sys.settrace(previous)
