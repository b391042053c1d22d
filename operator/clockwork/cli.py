"""The ``clockwork`` command: local mode (plan/apply/assert/destroy/status) and tools.

Exit codes: 0 ok, 1 failed or unhealthy, 2 bad input (nothing was changed).
Output is for people (tables) unless ``--output json`` asks for a script's view.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from clockwork import __version__, crdgen, docgen, metrics
from clockwork import why as why_mod
from clockwork.api.base import GROUP, VERSION, utcnow
from clockwork.api.common import ResourceStatus
from clockwork.api.registry import ALL_KINDS, FLEET_KINDS, Column, FleetKind, KindBase, column_value, is_ok
from clockwork.config import Settings
from clockwork.diff import HIDDEN, Change
from clockwork.errors import ClockworkError, InvalidResource, PermanentError
from clockwork.local import Loaded, LocalDriver, Outcome, Watcher, load, unknown_dependencies
from clockwork.reconcile import Intent
from clockwork.store import LocalStore

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail_input(message: str, problems: list[str] | None = None, as_json: bool = False) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"error": message, "problems": problems or []}, indent=2))
    else:
        err.print(f"[bold red]error:[/] {message}")
        for problem in problems or []:
            err.print(f"  - {problem}", markup=False)
    sys.exit(EXIT_INPUT)


def _settings(state_dir: Path | None, **overrides: Any) -> Settings:
    """Settings from the environment, with command-line flags on top."""
    try:
        settings = Settings.from_env()
    except PermanentError as exc:
        _fail_input(str(exc))
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


def _load(paths: tuple[Path, ...], as_json: bool) -> list[Loaded]:
    if not paths:
        _fail_input("give at least one -f FILE or folder", as_json=as_json)
    try:
        return load(paths, _settings(None).input_limits)
    except InvalidResource as exc:
        _fail_input("invalid input, nothing was changed", exc.problems, as_json=as_json)


def _run_intent(
    intent: Intent, paths: tuple[Path, ...], state_dir: Path | None, output: str, **overrides: Any
) -> list[Outcome]:
    as_json = output == "json"
    items = _load(paths, as_json)
    if intent == "destroy":
        items = list(reversed(items))
    settings = _settings(state_dir, **overrides)
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
                _refuse_unknown_dependencies(items, store, as_json)
            with _progress(as_json) as progress:
                return _run(lambda: run_all(progress))
    except PermanentError as exc:
        _fail_input(str(exc), as_json=as_json)
    except ClockworkError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(EXIT_FAILED)
    finally:
        if settings.metrics_file is not None:
            metrics.write_textfile(settings.metrics_file)


def _refuse_unknown_dependencies(items: list[Loaded], store: LocalStore, as_json: bool) -> None:
    """A dependency that exists nowhere would be waited for forever: bad input instead."""
    problems = unknown_dependencies(items, store)
    if problems:
        _fail_input("invalid input, nothing was changed", problems, as_json=as_json)


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
        yield lambda doing: status.update(_escape(doing))


def _exit_for(outcomes: list[Outcome]) -> NoReturn:
    sys.exit(EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED)


def _kind(outcome: Outcome) -> str:
    return outcome.ref.split("/", 1)[0]


def _result_word(outcome: Outcome) -> str:
    if _kind(outcome) in FLEET_KINDS and outcome.intent not in ("destroy", "plan"):
        return str(getattr(outcome.status, "phase", None) or "-")
    if outcome.intent == "plan":
        return "planned" if outcome.ok else "incomplete"
    if outcome.intent == "destroy":
        return "destroyed" if outcome.forgotten and outcome.known else ("absent" if not outcome.known else "failed")
    if outcome.apply is None:
        return "-"
    if not outcome.apply.ok:
        return "failed"
    return "changed" if outcome.changed else "unchanged"


def _condition(kind: str, status: Any, type_: str) -> str:
    """A condition's status from any kind's status (the kind says which plays Ready's part)."""
    info = ALL_KINDS.get(kind)
    if type_ == "Ready" and isinstance(info, FleetKind):
        type_ = info.ready_condition
    found = next((c for c in getattr(status, "conditions", []) if c.type == type_), None)
    return found.status if found else "-"


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    completion = getattr(outcome.status, "completion", None)
    return {
        "resource": outcome.ref,
        "intent": outcome.intent,
        "ok": outcome.ok,
        "changed": outcome.changed,
        "message": outcome.message,
        "completion": {
            "completer": completion.completer if completion else None,
            "model": completion.model if completion else None,
            "completedHash": completion.completed_hash if completion else None,
            "asked": outcome.completion_asked,
            "cached": outcome.completion_cached,
        },
        "operations": [op.wire() for op in outcome.operations] if outcome.intent == "plan" else None,
        "notes": outcome.notes if outcome.intent == "plan" else None,
        "changes": [c.wire() for c in outcome.changes] if outcome.intent == "plan" else None,
        "apply": outcome.apply.wire() if outcome.apply else None,
        "check": outcome.check.wire() if outcome.check else None,
        "destroy": outcome.destroy.wire() if outcome.destroy else None,
        "status": outcome.status.wire() if outcome.status is not None else None,
        "events": [e.__dict__ for e in outcome.events],
    }


def _print_outcomes(outcomes: list[Outcome], output: str, title: str) -> None:
    if output == "json":
        click.echo(json.dumps([_outcome_json(o) for o in outcomes], indent=2))
        return
    table = Table(title=title, title_justify="left")
    _add_columns(table, ("RESOURCE", "RESULT", "READY", "HEALTHY"), "MESSAGE")
    for o in outcomes:
        colour = "green" if o.ok else "red"
        gone = o.forgotten or not o.known
        table.add_row(
            o.ref,
            _result_word(o),
            "-" if gone else _condition(_kind(o), o.status, "Ready"),
            "-" if gone else _condition(_kind(o), o.status, "Healthy"),
            f"[{colour}]{_escape(o.message)}[/]",
        )
    _print_table(table)


def _add_columns(table: Table, whole: tuple[str, ...], *prose: str) -> None:
    """Columns of names, refs and short words (``whole``) are never broken: a name split
    mid-word cannot be read or copied. The ``prose`` columns take the width that is
    left and wrap at spaces (a word longer than the column, such as a path, folds)."""
    for column in whole:
        table.add_column(column, no_wrap=True, overflow="fold")
    for column in prose:
        table.add_column(column, overflow="fold")


# Width a prose column keeps at least beside whole names, before the names give way.
PROSE_MIN = 10


def _print_table(table: Table) -> None:
    """Print ``table`` with its names whole while they fit beside the prose columns.

    A name too long for the terminal folds rather than being cut short (a name
    with an ellipsis is no name at all): the widest whole column gives way first,
    taking the width that is left, so that its shorter names still stay whole.
    """
    whole = [c for c in table.columns if c.no_wrap]
    prose = len(table.columns) - len(whole)
    widths = {id(c): max([out.measure(c.header).maximum] + [out.measure(cell).maximum for cell in c.cells])
              for c in whole}  # fmt: skip
    room = out.width - 3 * len(table.columns) - 1 - PROSE_MIN * prose  # less padding and borders
    while whole and sum(widths[id(c)] for c in whole) > room:
        widest = max(whole, key=lambda c: widths[id(c)])
        whole.remove(widest)
        widest.no_wrap = False
        widest.width = max(PROSE_MIN, room - sum(widths[id(c)] for c in whole))
        room -= widest.width
    out.print(table)


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


@main.command()
@with_common
@with_model
def apply(paths: tuple[Path, ...], state_dir: Path | None, output: str, **flags: Any) -> None:
    """Complete, apply and check the resources in the files."""
    outcomes = _run_intent("converge", paths, state_dir, output, **flags)
    _print_outcomes(outcomes, output, "apply")
    if output != "json":
        _say_unavailable(outcomes)
    _exit_for(outcomes)


@main.command()
@with_common
@with_model
def plan(paths: tuple[Path, ...], state_dir: Path | None, output: str, **flags: Any) -> None:
    """Show the completed spec (and who filled each field) and the operations, without applying."""
    outcomes = _run_intent("plan", paths, state_dir, output, **flags)
    if output == "json":
        _print_outcomes(outcomes, output, "plan")
        _exit_for(outcomes)
    for o in outcomes:
        if _kind(o) in FLEET_KINDS:  # nothing is completed or compiled: what applying will do
            out.print(f"[bold]{o.ref}[/]  [green]planned[/]")
            out.print(f"  {_escape(o.message)}")
            out.print()
            continue
        no_target = any(n.startswith("cannot look at the target") for n in o.notes)
        out.print(f"[bold]{o.ref}[/]  {'[green]complete[/]' if o.ok else '[red]incomplete[/]'}"
                  + ("[red], but apply has no target (see below)[/]" if no_target else ""))  # fmt: skip
        if not o.ok:
            out.print(f"  [red]{_escape(_completed_line(o))}[/]")
        completed = o.status.completed.wire() if o.status.completed else {}
        completion = o.status.completion
        filled = completion.filled if completion else []
        sources = {f.field: f.source + (f" ({f.model})" if f.model else "") for f in filled}
        if completion is not None:
            where = "cache" if o.completion_cached else "this run"
            out.print(
                f"  completer: {completion.completer}"
                + (f" ({completion.model})" if completion.model else "")
                + f", from {where}; completed hash: [bold]{completion.completed_hash}[/]"
            )
        waiting = o.status.condition("Applied")
        if waiting is not None and waiting.reason == "AwaitingApproval":
            if completion is not None and completion.review:
                out.print("  [yellow]waits for approval[/] of what a completer proposed:")
                for line in completion.review:
                    out.print(f"    {line}", markup=False)
            else:
                out.print("  [yellow]waits for approval[/] (spec.completion.approval: manual)")
            out.print(
                f"  approve with: clockwork approve -f FILE --hash {completion.completed_hash if completion else '?'}"
            )
        if not completed:  # nothing was completed (e.g. the model endpoint is down): no empty table
            out.print()
            continue
        table = Table(show_header=True, box=None, padding=(0, 2))
        _add_columns(table, ("FIELD",), "VALUE", "SOURCE")
        for name, value in _flatten(completed):
            shown = json.dumps(value) if not isinstance(value, str) else value
            if name.startswith("env."):  # env values are often credentials: never printed
                shown = HIDDEN
            if len(shown) > 80:
                shown = shown[:77] + "..."
            source = sources.get(name, "user")
            colour = {"ai": "magenta", "offline": "cyan"}.get(source.split(" ")[0], "")
            table.add_row(name, _escape(shown), f"[{colour}]{source}[/]" if colour else source)
        _print_table(table)
        for op in o.operations:
            out.print(f"  [cyan]{op.op}[/] {_escape(op.description)}")
        for note in o.notes:
            colour = (
                "red"
                if ": refuses: " in note or note.startswith("cannot look")
                else ("yellow" if "backup" in note or "kept aside" in note else "")
            )
            out.print(f"  [{colour or 'default'}]{_escape(note)}[/]")
        _print_changes(o.changes)
        out.print()
    _say_unavailable(outcomes)
    _exit_for(outcomes)


CHANGE_MARK = {"create": ("+", "green"), "update": ("~", "yellow"), "remove": ("-", "red"),
               "unchanged": ("=", "dim"), "unknown": ("?", "yellow")}  # fmt: skip


def _print_changes(changes: list[Change]) -> None:
    """What applying would change on each node, terraform-plan style."""
    if not changes:
        return
    out.print("  changes on the nodes:")
    for change in changes:
        mark, colour = CHANGE_MARK[change.action]
        out.print(f"    [{colour}]{mark} {_escape(change.node)}: {_escape(change.target)}[/]"
                  + (" (no change)" if change.action == "unchanged" else ""))  # fmt: skip
        for f in change.fields:
            before = "(none)" if f.before is None else f.before
            after = "(none)" if f.after is None else f.after
            by = "" if f.source == "user" else f"  [dim]({_escape(f.source)})[/]"
            if f.before is None and change.action == "create":
                out.print(f"        {_escape(f.field)}: {_escape(after)}{by}")
            else:
                out.print(f"        {_escape(f.field)}: {_escape(before)} -> {_escape(after)}{by}")
        if change.diff:
            for line in change.diff.splitlines():
                tone = "green" if line.startswith("+") else ("red" if line.startswith("-") else "")
                shown = f"        {line}"
                out.print(f"[{tone}]{_escape(shown)}[/]" if tone else shown, markup=bool(tone), highlight=False)


def _completed_line(outcome: Outcome) -> str:
    """Why a plan is incomplete, with the Completed condition it is (reason included)."""
    found = outcome.status.condition("Completed") if outcome.status is not None else None
    if found is None or found.status == "True":
        return outcome.message
    return f"Completed={found.status} ({found.reason}): {outcome.message}"


def _say_unavailable(outcomes: list[Outcome]) -> None:
    """Each distinct reason completion was unavailable, once on stderr (the table has it per resource)."""
    reasons: dict[str, int] = {}
    for o in outcomes:
        found = o.status.condition("Completed") if isinstance(o.status, ResourceStatus) else None
        if found is not None and found.reason == "CompletionUnavailable":
            reasons[found.message] = reasons.get(found.message, 0) + 1
    for message, count in reasons.items():
        err.print(f"[bold red]error:[/] {_escape(message)} ({count} resource(s) not completed)")


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        return [pair for k, v in value.items() for pair in _flatten(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), value)]


@main.command()
@with_common
@click.option("--hash", "reviewed", default=None, help="Approve only if the completion still has this hash.")
@with_model
def approve(paths: tuple[Path, ...], state_dir: Path | None, output: str, reviewed: str | None, **flags: Any) -> None:
    """Approve the reviewed completions that wait for a person (see `clockwork plan`): approval: manual,
    or values a model proposed that need review. With --hash, only the completion with that hash."""
    as_json = output == "json"
    items = _load(paths, as_json)
    settings = _settings(state_dir, **flags)
    store = LocalStore(settings.state_dir)
    results: list[tuple[str, str, str]] = []
    try:
        with store.locked():
            driver = LocalDriver(store, settings)
            for item in items:
                result, detail = driver.approve(item, reviewed)
                results.append((item.ref, result, detail))
    except PermanentError as exc:
        _fail_input(str(exc), as_json=as_json)
    if as_json:
        click.echo(json.dumps([{"resource": r, "result": st, "ok": st != "refused", "detail": d}
                               for r, st, d in results], indent=2))  # fmt: skip
    else:
        for ref, word, detail in results:
            if word == "approved":
                out.print(f"[green]approved[/] {ref} at {detail}")
            elif word == "refused":
                err.print(f"[red]not approved[/] {ref}: {_escape(detail)}")
            else:
                out.print(f"[dim]skipped[/] {ref}: {_escape(detail)}")
    states = [result for _, result, _ in results]
    # --hash names one completion: it must be among them; nothing may be refused.
    unmatched = reviewed is not None and "approved" not in states
    if unmatched and not as_json:
        err.print(f"[red]not approved[/]: {_escape(str(reviewed))} is not the current completion "
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
    items = _load(paths, as_json)  # bad input fails here, before anything runs
    settings = _settings(state_dir, **flags)
    store = LocalStore(settings.state_dir)

    def report(outcome: Outcome) -> None:
        stamp = utcnow().isoformat()
        if as_json:
            click.echo(json.dumps({"time": stamp, **_outcome_json(outcome)}))
            return
        colour = "green" if outcome.ok else "red"
        for event in outcome.events:
            tone = "yellow" if event.type == "Warning" else "cyan"
            out.print(f"{stamp} [{tone}]{event.reason}[/] {outcome.ref}: {_escape(event.message)}")
        if not outcome.events:
            out.print(f"{stamp} [{colour}]{outcome.intent}[/] {outcome.ref}: {_escape(outcome.message)}")

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
            _refuse_unknown_dependencies(items, store, as_json)
            asyncio.run(run())
        err.print(f"watch stopped: {why[0] if why else 'nothing left to watch'}", markup=False)
    except PermanentError as exc:
        _fail_input(str(exc), as_json=as_json)
    finally:
        if settings.metrics_file is not None:
            metrics.write_textfile(settings.metrics_file)


@main.command()
@click.argument("refs", nargs=-1, metavar="KIND/NAME...")
@with_common
@click.option("-n", "--namespace", default=None, help="Namespace (default: the kubeconfig context's, or default).")
@click.option("--cluster", is_flag=True, help="Ask the cluster's API (kubeconfig or in-cluster), not local state.")
@click.option("--context", default=None, help="kubeconfig context (with --cluster).")
def why(refs: tuple[str, ...], paths: tuple[Path, ...], state_dir: Path | None, output: str, namespace: str | None,
        cluster: bool, context: str | None) -> None:  # fmt: skip
    """Why a resource is not Ready: the chain of reasons (a dependency that is not Ready and
    why, the approval it waits for, the target it cannot find, the checks that failed).

    KIND/NAME as kubectl takes it (File/motd, containers/web, Task/ns/name); or -f FILE
    for every resource in the files. Exit 0 when all are where they should be, else 1.
    """
    as_json = output == "json"
    if not refs and not paths:
        _fail_input("name a resource (KIND/NAME) or give -f FILE", as_json=as_json)
    if cluster:
        lookup, close, context_namespace = _cluster_lookup(context, as_json)
        hint = _cluster_approve_hint
    else:
        store = LocalStore(_settings(state_dir).state_dir)
        lookup, close, context_namespace = _local_lookup(store), store.close, "default"
        hint = _local_approve_hint
    wanted = [_parse_ref(ref, namespace or context_namespace, as_json) for ref in refs]
    if paths:
        wanted += [(i.kind, i.metadata.namespace, i.metadata.name) for i in _load(paths, as_json)]
    try:
        explained = [(key, why_mod.explain(*key, lookup, hint)) for key in wanted]
    except why_mod.Unanswered as exc:
        err.print(f"[bold red]error:[/] {_escape(str(exc))}")
        sys.exit(EXIT_FAILED)
    finally:
        close()
    ok = all(e.ok for _, e in explained)
    if as_json:
        click.echo(json.dumps([{"resource": "/".join(key), "ok": e.ok, "reasons": [r.__dict__ for r in e.reasons]}
                               for key, e in explained], indent=2, default=list))  # fmt: skip
        sys.exit(EXIT_OK if ok else EXIT_FAILED)
    for _, e in explained:
        for r in e.reasons:
            indent = "  " * r.depth + ("└ " if r.depth else "")
            fine = r.depth == 0 and e.ok
            out.print(f"{indent}[bold]{_escape(r.ref)}[/] [{'green' if fine else 'red'}]{_escape(r.text)}[/]")
            for detail in r.details:
                out.print(f"{'  ' * r.depth}    {_escape(detail)}")
    sys.exit(EXIT_OK if ok else EXIT_FAILED)


def _parse_ref(ref: str, namespace: str, as_json: bool) -> tuple[str, str, str]:
    parts = ref.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        _fail_input(f"{ref!r}: name a resource as KIND/NAME or KIND/NAMESPACE/NAME", as_json=as_json)
    word = parts[0].lower()
    kind = next((k for k, i in ALL_KINDS.items() if word in (k.lower(), i.plural, i.singular, *i.short_names)), None)
    if kind is None:
        _fail_input(f"{ref!r}: unknown kind {parts[0]!r}; Clockwork serves {', '.join(ALL_KINDS)}", as_json=as_json)
    return (kind, parts[1], parts[2]) if len(parts) == 3 else (kind, namespace, parts[1])


def _local_lookup(store: LocalStore) -> why_mod.Lookup:
    def get(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        record = store.get(kind, namespace, name)
        return None if record is None else {"spec": record.spec, "status": record.status}

    return get


def _local_approve_hint(ref: str, completed_hash: str) -> str:
    return f"approve with: clockwork approve -f FILE --hash {completed_hash}"


def _cluster_approve_hint(ref: str, completed_hash: str) -> str:
    kind, namespace, name = ref.split("/")
    plural = ALL_KINDS[kind].plural
    return f"approve with: kubectl annotate -n {namespace} {plural} {name} clockwork.dev/approve={completed_hash}"


def _cluster_lookup(context: str | None, as_json: bool) -> tuple[why_mod.Lookup, Callable[[], None], str]:
    """Objects from the cluster's API, as `kubectl get -o json` shows them, and the namespace
    kubectl would use (the kubeconfig context's, or the in-cluster ServiceAccount's)."""
    import urllib3
    from kubernetes import client, config  # the cluster's client only when asked for the cluster
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    namespace = "default"
    try:
        try:
            config.load_kube_config(context=context)
            contexts, active = config.list_kube_config_contexts()
            chosen = next((c for c in contexts if c["name"] == context), active)
            namespace = (chosen or {}).get("context", {}).get("namespace") or namespace
        except (ConfigException, FileNotFoundError):
            config.load_incluster_config()
            found = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
            namespace = found.read_text().strip() if found.is_file() else namespace
    except ConfigException as exc:
        _fail_input(f"no cluster to ask: {exc}", as_json=as_json)
    api_client = client.ApiClient()
    api = client.CustomObjectsApi(api_client)

    def get(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found = api.get_namespaced_custom_object(GROUP, VERSION, namespace, ALL_KINDS[kind].plural, name,
                                                     _request_timeout=10)  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise why_mod.Unanswered(f"the cluster answered {exc.status} for {kind}/{namespace}/{name}: "
                                     f"{exc.reason}") from None  # fmt: skip
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise why_mod.Unanswered(f"cannot reach the cluster at {api_client.configuration.host}: {exc}") from None
        return dict(found)

    return get, api_client.close, namespace


@main.command(name="assert")
@with_common
def assert_(paths: tuple[Path, ...], state_dir: Path | None, output: str) -> None:
    """Check that what was applied is still in place (exit 1 and a table of failures if not)."""
    outcomes = _run_intent("check", paths, state_dir, output)
    if output == "json":
        _print_outcomes(outcomes, output, "assert")
        _exit_for(outcomes)
    table = Table(title="assert", title_justify="left")
    _add_columns(table, ("RESOURCE", "NODE", "ASSERTION", "OK"), "MESSAGE")
    for o in outcomes:
        found = getattr(o.status, "health", None)
        results = found.results if found is not None and o.known else []
        if not results:
            table.add_row(o.ref, "-", "-", "[red]no[/]" if not o.ok else "yes", _escape(o.message))
        for r in results:
            table.add_row(o.ref, r.node, r.name, "[green]yes[/]" if r.ok else "[red]no[/]", _escape(r.message))
    _print_table(table)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        err.print(f"[red]{len(failed)} of {len(outcomes)} resource(s) drifted or failed[/]")
    _exit_for(outcomes)


@main.command()
@with_common
def destroy(paths: tuple[Path, ...], state_dir: Path | None, output: str) -> None:
    """Remove what apply made for the resources in the files, and forget them."""
    outcomes = _run_intent("destroy", paths, state_dir, output)
    _print_outcomes(outcomes, output, "destroy")
    _exit_for(outcomes)


@main.command()
@with_common
def status(paths: tuple[Path, ...], state_dir: Path | None, output: str) -> None:
    """Show the recorded status of applied resources (all, or those in the files)."""
    settings = _settings(state_dir)
    store = LocalStore(settings.state_dir)
    wanted: set[tuple[str, str, str]] | None = None
    if paths:
        try:
            wanted = {(i.kind, i.metadata.namespace, i.metadata.name) for i in load(paths, settings.input_limits)}
        except InvalidResource as exc:
            _fail_input("invalid input", exc.problems, as_json=output == "json")
    try:
        # No lock: reading beside a running `clockwork watch` is safe (SQLite WAL).
        records = [r for r in store.list() if wanted is None or r.key in wanted]
    except PermanentError as exc:
        _fail_input(str(exc), as_json=output == "json")
    finally:
        store.close()
    ok = all(is_ok(r.kind, r.status) for r in records)
    if output == "json":
        click.echo(
            json.dumps(
                [{"resource": "/".join(r.key), "generation": r.generation, "ok": is_ok(r.kind, r.status),
                  "status": r.status} for r in records],
                indent=2,
            )
        )  # fmt: skip
        sys.exit(EXIT_OK if ok else EXIT_FAILED)
    if not records:
        out.print("no resources applied yet" if wanted is None else "none of these resources is applied yet")
    now = utcnow()
    for kind in sorted({r.kind for r in records}, key=list(ALL_KINDS).index):
        info = ALL_KINDS[kind]
        table = Table(title=f"{kind} ({settings.state_dir})", title_justify="left")
        columns = [c for c in info.printer_columns]
        _add_columns(table, ("NAME", *(c.name.upper() for c in columns)), "MESSAGE")
        for r in (r for r in records if r.kind == kind):
            body = {"metadata": {"name": r.name, "namespace": r.namespace, "creationTimestamp": r.created.isoformat()},
                    "spec": r.spec, "status": r.status}  # fmt: skip
            cells = [_cell(c, column_value(c, body), now) for c in columns]
            colour = "green" if is_ok(kind, r.status) else "red"
            table.add_row(f"{r.namespace}/{r.name}", *cells, f"[{colour}]{_escape(_status_message(info, r.status))}[/]")
        _print_table(table)
    sys.exit(EXIT_OK if ok else EXIT_FAILED)


def _cell(column: Column, value: Any, now: datetime) -> str:
    if value is None:
        return "-"
    if column.type == "date":
        try:
            seconds = int((now - datetime.fromisoformat(str(value))).total_seconds())
        except ValueError:
            return str(value)
        return _age(seconds)
    return str(value)


def _age(seconds: int) -> str:
    """How kubectl shows an age: 45s, 12m, 3h, 5d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _status_message(info: KindBase, status: dict[str, Any]) -> str:
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is not None and ready.get("status") != "True":
        return str(ready.get("message") or "")
    return str(status.get("message") or (ready or {}).get("message") or "")


@main.command()
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def doctor(output: str) -> None:
    """Which runners and connectors this machine can use, and why not."""
    from clockwork.doctor import run_checks

    checks = run_checks(_settings(None))
    if output == "json":
        click.echo(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        table = Table(title="clockwork doctor", title_justify="left")
        _add_columns(table, ("AREA", "CHECK", "OK"), "DETAIL", "HINT")
        for c in checks:
            mark = "[green]yes[/]" if c.ok else ("[red]no[/]" if c.required else "[yellow]no[/]")
            table.add_row(c.area, c.name, mark, _escape(c.detail), _escape(c.hint))
        _print_table(table)
    sys.exit(EXIT_OK if all(c.ok for c in checks if c.required) else EXIT_FAILED)


@main.command(name="operator")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Watch only this namespace (repeatable); default: every namespace.",
)
@click.option("--model", default=None, help="Model for AI completion (default: $CW_MODEL; none: offline).")
@click.option("--base-url", default=None, help="OpenAI-compatible endpoint (default: $CW_BASE_URL).")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    default=None,
    help="Default: $CW_LOG_LEVEL or INFO.",
)
def operator_(namespaces: tuple[str, ...], model: str | None, base_url: str | None, log_level: str | None) -> None:
    """Run the Kubernetes operator (kopf) with metrics on :8080 and liveness on :8081/healthz."""
    level = log_level or os.environ.get("CW_LOG_LEVEL") or "INFO"
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The Kubernetes client logs whole response bodies at DEBUG, Secrets included: never.
    logging.getLogger("kubernetes.client.rest").setLevel(max(logging.INFO, logging.getLevelName(level)))
    settings = _settings(None, model=model, base_url=base_url)
    # Imported here: kopf and the Kubernetes client are only needed by the operator.
    from clockwork.operator.main import run

    run(settings, namespaces)


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to write one CRD per kind into (default: print to stdout).",
)
def crds(out_dir: Path | None) -> None:
    """Generate the CustomResourceDefinitions from the API models."""
    if out_dir is None:
        click.echo("---\n".join(crdgen.generate().values()), nl=False)
        return
    for path in crdgen.write(out_dir):
        err.print(f"wrote {path}")


@main.command()
@click.option(
    "--page",
    type=click.Choice(list(docgen.PAGES)),
    default="resources",
    show_default=True,
    help="resources (docs/resources.md), settings (docs/settings.md) or architecture (its layers).",
)
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="File to write the page into (default: print to stdout).")  # fmt: skip
def docs(page: str, out_file: Path | None) -> None:
    """Generate a docs page from the code: the resource reference, the settings, the layers."""
    if out_file is None:
        click.echo(docgen.PAGES[page](""), nl=False)
        return
    err.print(f"wrote {docgen.write(out_file, page)}")


if __name__ == "__main__":  # pragma: no cover
    main()
