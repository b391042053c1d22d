"""The ``clockwork`` group and what its commands share: options, settings, loading the
files, and running one intent over them in local mode with bad input failing as exit 2."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from clockwork import __version__, metrics
from clockwork.cli.output import EXIT_FAILED, EXIT_INPUT, err, escape, out
from clockwork.config import Settings
from clockwork.errors import ClockworkError, InvalidResource, PermanentError
from clockwork.local import Loaded, LocalDriver, Outcome, load, unknown_dependencies
from clockwork.reconcile import Intent
from clockwork.store import LocalStore


def fail_input(message: str, problems: list[str] | None = None, as_json: bool = False) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"error": message, "problems": problems or []}, indent=2))
    else:
        err.print(f"[bold red]error:[/] {message}")
        for problem in problems or []:
            err.print(f"  - {problem}", markup=False)
    sys.exit(EXIT_INPUT)


def settings_for(state_dir: Path | None, **overrides: Any) -> Settings:
    """Settings from the environment, with command-line flags on top."""
    try:
        settings = Settings.from_env()
    except PermanentError as exc:
        fail_input(str(exc))
    changes = {k: v for k, v in overrides.items() if v is not None}
    if state_dir is not None:
        changes["state_dir"] = state_dir
    return dataclasses.replace(settings, **changes)


common_options: list[Callable[[Any], Any]] = [
    click.option(
        "-f",
        "--filename",
        "paths",
        multiple=True,
        type=click.Path(path_type=Path),
        help="YAML file or folder of them (multi-document allowed). Repeatable.",
    ),
    click.option(
        "--state-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Local state folder (default: $CW_STATE_DIR or ./.clockwork).",
    ),
    click.option(
        "-o",
        "--output",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="table for people, json for scripts.",
    ),
]


model_options: list[Callable[[Any], Any]] = [
    click.option("--model", default=None, help="Model for AI completion (default: $CW_MODEL; none: offline)."),
    click.option("--base-url", default=None, help="OpenAI-compatible endpoint (default: $CW_BASE_URL)."),
    click.option(
        "--metrics-file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Write metrics here at the end (node_exporter textfile format; default: $CW_METRICS_FILE).",
    ),
]


def with_common(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(common_options):
        func = option(func)
    return func


def with_model(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(model_options):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="clockwork")
def main() -> None:
    """Clockwork: declare infrastructure on edge machines; Clockwork completes, applies and heals it."""


def load_items(paths: tuple[Path, ...], as_json: bool) -> list[Loaded]:
    if not paths:
        fail_input("give at least one -f FILE or folder", as_json=as_json)
    try:
        return load(paths, settings_for(None).input_limits)
    except InvalidResource as exc:
        fail_input("invalid input, nothing was changed", exc.problems, as_json=as_json)


def run_intent(
    intent: Intent, paths: tuple[Path, ...], state_dir: Path | None, output: str, **overrides: Any
) -> list[Outcome]:
    as_json = output == "json"
    items = load_items(paths, as_json)
    if intent == "destroy":
        items = list(reversed(items))
    settings = settings_for(state_dir, **overrides)
    store = LocalStore(settings.state_dir)

    async def run_all(progress: Callable[[str], None] | None) -> list[Outcome]:
        driver = LocalDriver(store, settings)
        driver.batch = items
        driver.progress = progress
        try:
            return await driver.reconcile_all(items, intent)
        finally:
            await driver.aclose()

    try:
        with store.locked():
            if intent in ("converge", "plan"):
                refuse_unknown_dependencies(items, store, as_json)
            with _progress(as_json) as progress:
                return _run(lambda: run_all(progress))
    except PermanentError as exc:
        fail_input(str(exc), as_json=as_json)
    except ClockworkError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(EXIT_FAILED)
    finally:
        if settings.metrics_file is not None:
            metrics.write_textfile(settings.metrics_file)


def refuse_unknown_dependencies(items: list[Loaded], store: LocalStore, as_json: bool) -> None:
    """A dependency that exists nowhere would be waited for forever: bad input instead."""
    problems = unknown_dependencies(items, store)
    if problems:
        fail_input("invalid input, nothing was changed", problems, as_json=as_json)


def _run(factory: Callable[[], Coroutine[Any, Any, list[Outcome]]]) -> list[Outcome]:
    return asyncio.run(factory())


@contextlib.contextmanager
def _progress(as_json: bool) -> Iterator[Callable[[str], None] | None]:
    """On a terminal, a spinner naming what is being done ("applying File/default/motd");
    it goes away before the results are printed. Pipes, files and --output json get
    nothing extra (None: the driver says nothing)."""
    if as_json or not sys.stdout.isatty():
        yield None
        return
    with out.status("starting", spinner="dots") as status:
        yield lambda doing: status.update(escape(doing))
