"""A real language model for the model tier: llama.cpp's OpenAI-compatible server with
SmolLM2-135M-Instruct, on 127.0.0.1 at a free port, for a bounded time.

scripts/model/setup.sh (part of ``make test-deps``) builds the server into a cache folder
outside the repository; here it is found (or set up, which can take about 25 minutes on a
new machine), started, waited for (bounded) and stopped by its PID.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "scripts" / "model" / "setup.sh"
# The longest a cold set-up (llama.cpp compiled from source) may take.
SETUP_TIMEOUT = 3600
ALIAS = "smollm2"


class ModelServerError(Exception):
    pass


def model_folder() -> Path:
    """The folder with the server's venv and model.gguf (set up on first use)."""
    try:
        proc = subprocess.run([str(SETUP)], capture_output=True, text=True, timeout=SETUP_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise ModelServerError(f"{SETUP} did not finish within {SETUP_TIMEOUT} s") from exc
    if proc.returncode != 0:
        raise ModelServerError(f"{SETUP} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


@dataclass
class ModelServer:
    url: str  # the OpenAI base URL, .../v1
    process: subprocess.Popen[bytes]
    log: Path
    startup_seconds: float
    requests: list[dict[str, object]] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def tokens_per_second(self) -> float | None:
        """Generation speed from the server's own timing lines (llama.cpp's "eval time")."""
        rates = []
        for line in self.log.read_text(errors="replace").splitlines():
            if "eval time" in line and "prompt eval" not in line and "tokens per second" in line:
                rates.append(float(line.rsplit("(", 1)[1].split("ms per token,")[1].split("tokens")[0]))
        return sum(rates) / len(rates) if rates else None


def start_model_server(folder: Path, port: int, work: Path, lifetime: float = 3600) -> ModelServer:
    """The server on 127.0.0.1:port, ready to answer; killed by ``timeout`` after ``lifetime``
    seconds even if the test run that started it dies without stopping it."""
    log = work / "llama-server.log"
    command = [
        "timeout", "--signal=TERM", "--kill-after=10", str(int(lifetime)),
        str(folder / "venv" / "bin" / "python"), "-m", "llama_cpp.server",
        "--model", str(folder / "model.gguf"), "--model_alias", ALIAS,
        "--chat_format", "chatml-function-calling", "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "8192", "--n_threads", "1", "--verbose", "true",
    ]  # fmt: skip
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=work)
    url = f"http://127.0.0.1:{port}/v1"
    server = ModelServer(url, process, log, 0.0)
    deadline = started + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ModelServerError(f"the model server exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as answer:
                models = json.load(answer)
            if any(m.get("id") == ALIAS for m in models.get("data", [])):
                server.startup_seconds = time.monotonic() - started
                return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    server.stop()
    raise ModelServerError(f"the model server did not answer on {url} within 120 s: {log.read_text()[-2000:]}")
