"""Is the model endpoint there? One bounded ``GET /models``, before anything waits on it.

`clockwork doctor` reports the answer; a run asks once before its first completion,
so that an endpoint that is down costs one short attempt (not an import of the
model client and a failed request per resource). Only the standard library: the
question must be cheap. The API key is sent, never shown.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clockwork.api.common import CompletionSource
from clockwork.api.registry import KindInfo
from clockwork.completion.base import CompletionContext, Proposal
from clockwork.text import redact_url

if TYPE_CHECKING:
    from clockwork.completion.ai import AICompleter

OPENAI = "https://api.openai.com/v1"
PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Reach:
    """What one GET /models found: an HTTP answer (``status``), or why there was none."""

    endpoint: str  # as shown: without any password
    status: int | None
    why: str = ""

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def unreachable(self) -> str:
        """The message for a completion that could not be asked."""
        return f"model endpoint {self.endpoint} is unreachable: {self.why}"


def probe(base_url: str | None, api_key: str | None, timeout: float = PROBE_TIMEOUT) -> Reach:
    """GET {base_url}/models with the key, within ``timeout`` seconds."""
    url = (base_url or OPENAI).rstrip("/")
    shown = redact_url(url)
    parts = urllib.parse.urlsplit(url)
    headers = {"Accept": "application/json"}
    if parts.username is not None:  # user:password@ in the URL: basic auth, as the model client does
        pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(urllib.parse.urlunsplit(parts) + "/models", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reach(shown, int(response.status))
    except urllib.error.HTTPError as exc:
        return Reach(shown, exc.code, exc.reason if isinstance(exc.reason, str) else "")
    except urllib.error.URLError as exc:
        return Reach(shown, None, describe_failure(exc.reason, timeout))
    except (OSError, ValueError) as exc:
        return Reach(shown, None, describe_failure(exc, timeout))


def describe_failure(reason: BaseException | str, timeout: float | None = None) -> str:
    """Why nothing answered, in a few words (the usual causes by name)."""
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g}s" if timeout else "no answer in time"
    if isinstance(reason, socket.gaierror):
        return "host name not found"
    text = " ".join(str(reason).split()) or type(reason).__name__
    return text[:200]


class CheckedCompleter:
    """The AI completer, built only once the endpoint answered.

    Before the first completion the endpoint is asked (bounded); while it is
    unreachable every completion is the same temporary failure at once, and it is
    asked again only after ``retry_seconds``. The model client (pydantic-ai, openai)
    is imported only when there is something to talk to.
    """

    name = "ai"
    source: CompletionSource = "ai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None,
        api_key: str | None,
        build: Callable[[], AICompleter],
        retry_seconds: float,
        probe_timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self.model: str | None = model
        self._base_url, self._api_key = base_url, api_key
        self._build = build
        self._inner: AICompleter | None = None
        self._down: tuple[float, str] | None = None  # (until when, why)
        self.retry_seconds = retry_seconds
        self._probing = asyncio.Lock()
        self.probe_timeout = probe_timeout

    async def _unreachable(self) -> str | None:
        """Why the endpoint cannot be asked now, or None. One probe at a time: completions that
        arrive together (a batch) wait for the one probe and share what it found."""
        async with self._probing:
            return await self._probe_once()

    async def _probe_once(self) -> str | None:
        if self._down is not None and time.monotonic() < self._down[0]:
            return self._down[1]
        if self._inner is not None and self._down is None:
            return None
        reach = await asyncio.to_thread(probe, self._base_url, self._api_key, self.probe_timeout)
        if not reach.answered:
            self._down = (time.monotonic() + self.retry_seconds, reach.unreachable)
            return reach.unreachable
        self._down = None
        return None

    async def propose(
        self, info: KindInfo, spec: dict[str, Any], missing: list[str], context: CompletionContext
    ) -> Proposal:
        why = await self._unreachable()
        if why is not None:
            return Proposal(temporary_error=why)
        if self._inner is None:
            self._inner = self._build()
        proposal = await self._inner.propose(info, spec, missing, context)
        if self._inner.unreachable:  # went away since: the resources after this one need not wait for it
            self._down = (time.monotonic() + self.retry_seconds, proposal.temporary_error or self._inner.unreachable)
            self._inner.unreachable = None
        return proposal

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
