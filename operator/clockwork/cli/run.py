"""The commands that act in local mode: apply, assert, destroy, approve and watch."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from clockwork import metrics
from clockwork.api.base import utcnow
from clockwork.cli.base import (
    fail_input,
    load_items,
    main,
    refuse_unknown_dependencies,
    run_intent,
    settings_for,
    with_common,
    with_model,
)
from clockwork.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    add_columns,
    err,
    escape,
    exit_for,
    out,
    outcome_json,
    print_outcomes,
    print_table,
    say_unavailable,
)
from clockwork.errors import PermanentError
from clockwork.local import LocalDriver, Outcome, Watcher
from clockwork.store import LocalStore


@main.command()
@with_common
@with_model
def apply(paths: tuple[Path, ...], state_dir: Path | None, output: str, **flags: Any) -> None:
    """Complete, apply and check the resources in the files."""
    outcomes = run_intent("converge", paths, state_dir, output, **flags)
    print_outcomes(outcomes, output, "apply")
    if output != "json":
        say_unavailable(outcomes)
    exit_for(outcomes)


@main.command(name="assert")
@with_common
def assert_(paths: tuple[Path, ...], state_dir: Path | None, output: str) -> None:
    """Check that what was applied is still in place (exit 1 and a table of failures if not)."""
    outcomes = run_intent("check", paths, state_dir, output)
    if output == "json":
        print_outcomes(outcomes, output, "assert")
        exit_for(outcomes)
    table = Table(title="assert", title_justify="left")
    add_columns(table, ("RESOURCE", "NODE", "ASSERTION", "OK"), "MESSAGE")
    for o in outcomes:
        found = getattr(o.status, "health", None)
        results = found.results if found is not None and o.known else []
        if not results:
            table.add_row(o.ref, "-", "-", "[red]no[/]" if not o.ok else "yes", escape(o.message))
        for r in results:
            table.add_row(o.ref, r.node, r.name, "[green]yes[/]" if r.ok else "[red]no[/]", escape(r.message))
    print_table(table)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        err.print(f"[red]{len(failed)} of {len(outcomes)} resource(s) drifted or failed[/]")
    exit_for(outcomes)


@main.command()
@with_common
def destroy(paths: tuple[Path, ...], state_dir: Path | None, output: str) -> None:
    """Remove what apply made for the resources in the files, and forget them."""
    outcomes = run_intent("destroy", paths, state_dir, output)
    print_outcomes(outcomes, output, "destroy")
    exit_for(outcomes)


@main.command()
@with_common
@click.option("--hash", "reviewed", default=None, help="Approve only if the completion still has this hash.")
@with_model
def approve(paths: tuple[Path, ...], state_dir: Path | None, output: str, reviewed: str | None, **flags: Any) -> None:
    """Approve the reviewed completions that wait for a person (see `clockwork plan`): approval: manual,
    or values a model proposed that need review. With --hash, only the completion with that hash."""
    as_json = output == "json"
    items = load_items(paths, as_json)
    settings = settings_for(state_dir, **flags)
    store = LocalStore(settings.state_dir)
    results: list[tuple[str, str, str]] = []
    try:
        with store.locked():
            driver = LocalDriver(store, settings)
            for item in items:
                result, detail = driver.approve(item, reviewed)
                results.append((item.ref, result, detail))
    except PermanentError as exc:
        fail_input(str(exc), as_json=as_json)
    if as_json:
        click.echo(json.dumps([{"resource": r, "result": st, "ok": st != "refused", "detail": d}
                               for r, st, d in results], indent=2))  # fmt: skip
    else:
        for ref, word, detail in results:
            if word == "approved":
                out.print(f"[green]approved[/] {ref} at {detail}")
            elif word == "refused":
                err.print(f"[red]not approved[/] {ref}: {escape(detail)}")
            else:
                out.print(f"[dim]skipped[/] {ref}: {escape(detail)}")
    states = [result for _, result, _ in results]
    # --hash names one completion: it must be among them; nothing may be refused.
    unmatched = reviewed is not None and "approved" not in states
    if unmatched and not as_json:
        err.print(f"[red]not approved[/]: {escape(str(reviewed))} is not the current completion "
                  "of any resource in these files (see `clockwork plan`)")  # fmt: skip
    failed = "refused" in states or unmatched
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


class Duration(click.ParamType[float, Any]):
    """A duration such as 90s, 10m, 2h or 1h30m: whole units, larger first, more than zero."""

    name = "duration"
    _FORM = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        found = self._FORM.fullmatch(str(value))
        seconds = sum(int(n or 0) * size for n, size in zip(found.groups(), (3600, 60, 1), strict=True)) if found else 0
        if found and any(found.groups()) and not seconds:
            self.fail(f"{value!r} must be longer than zero (e.g. 90s, 10m)", param, ctx)
        if not seconds:
            self.fail(f"{value!r} is not a duration; use whole units such as 90s, 10m, 2h or 1h30m", param, ctx)
        return float(seconds)


@main.command()
@with_common
@click.option("--for", "run_for", type=Duration(), default=None,
              help="Stop cleanly after this long (90s, 10m, 1h30m); default: until Ctrl-C or SIGTERM.")  # fmt: skip
@with_model
def watch(paths: tuple[Path, ...], state_dir: Path | None, output: str, run_for: float | None, **flags: Any) -> None:
    """Apply, then keep checking and healing the resources until stopped (Ctrl-C / SIGTERM, or --for).

    The health loop of the operator without a cluster: checks at each resource's
    interval, remediation with backoff; edited files are applied again. An outcome
    that repeats unchanged is said once.
    """
    as_json = output == "json"
    items = load_items(paths, as_json)  # bad input fails here, before anything runs
    settings = settings_for(state_dir, **flags)
    store = LocalStore(settings.state_dir)

    def report(outcome: Outcome) -> None:
        stamp = utcnow().isoformat()
        if as_json:
            click.echo(json.dumps({"time": stamp, **outcome_json(outcome)}))
            return
        colour = "green" if outcome.ok else "red"
        for event in outcome.events:
            tone = "yellow" if event.type == "Warning" else "cyan"
            out.print(f"{stamp} [{tone}]{event.reason}[/] {outcome.ref}: {escape(event.message)}")
        if not outcome.events:
            out.print(f"{stamp} [{colour}]{outcome.intent}[/] {outcome.ref}: {escape(outcome.message)}")

    why: list[str] = []  # why it stopped, the first reason wins

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stopping(reason: str) -> None:
            why.append(reason)
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping, f"{signal.Signals(signum).name} received")
        if run_for is not None:
            loop.call_later(run_for, stopping, f"ran for {run_for:g}s (--for)")
        driver = LocalDriver(store, settings)
        try:
            await Watcher(driver, list(paths), report).run(stop)
        finally:
            await driver.aclose()

    try:
        with store.locked():
            refuse_unknown_dependencies(items, store, as_json)
            asyncio.run(run())
        err.print(f"watch stopped: {why[0] if why else 'nothing left to watch'}", markup=False)
    except PermanentError as exc:
        fail_input(str(exc), as_json=as_json)
    finally:
        if settings.metrics_file is not None:
            metrics.write_textfile(settings.metrics_file)
