"""``clockwork plan``: the completed spec and who filled each field, the operations, and
what applying would change on each node, terraform-plan style."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from clockwork.cli.base import main, run_intent, with_common, with_model
from clockwork.cli.output import (
    add_columns,
    escape,
    exit_for,
    out,
    phased,
    print_outcomes,
    print_table,
    say_unavailable,
)
from clockwork.diff import HIDDEN, Change
from clockwork.local import Outcome


@main.command()
@with_common
@with_model
def plan(paths: tuple[Path, ...], state_dir: Path | None, output: str, **flags: Any) -> None:
    """Show the completed spec (and who filled each field) and the operations, without applying."""
    outcomes = run_intent("plan", paths, state_dir, output, **flags)
    if output == "json":
        print_outcomes(outcomes, output, "plan")
        exit_for(outcomes)
    for o in outcomes:
        if phased(o):  # nothing is completed or compiled: what applying will do
            out.print(f"[bold]{o.ref}[/]  [green]planned[/]")
            out.print(f"  {escape(o.message)}")
            out.print()
            continue
        no_target = any(n.startswith("cannot look at the target") for n in o.notes)
        out.print(f"[bold]{o.ref}[/]  {'[green]complete[/]' if o.ok else '[red]incomplete[/]'}"
                  + ("[red], but apply has no target (see below)[/]" if no_target else ""))  # fmt: skip
        if not o.ok:
            out.print(f"  [red]{escape(_completed_line(o))}[/]")
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
        add_columns(table, ("FIELD",), "VALUE", "SOURCE")
        for name, value in _flatten(completed):
            shown = json.dumps(value) if not isinstance(value, str) else value
            if name.startswith("env."):  # env values are often credentials: never printed
                shown = HIDDEN
            if len(shown) > 80:
                shown = shown[:77] + "..."
            source = sources.get(name, "user")
            colour = {"ai": "magenta", "offline": "cyan"}.get(source.split(" ")[0], "")
            table.add_row(name, escape(shown), f"[{colour}]{source}[/]" if colour else source)
        print_table(table)
        for op in o.operations:
            out.print(f"  [cyan]{op.op}[/] {escape(op.description)}")
        for note in o.notes:
            colour = (
                "red"
                if ": refuses: " in note or note.startswith("cannot look")
                else ("yellow" if "backup" in note or "kept aside" in note else "")
            )
            out.print(f"  [{colour or 'default'}]{escape(note)}[/]")
        _print_changes(o.changes)
        out.print()
    say_unavailable(outcomes)
    exit_for(outcomes)


CHANGE_MARK = {"create": ("+", "green"), "update": ("~", "yellow"), "remove": ("-", "red"),
               "unchanged": ("=", "dim"), "unknown": ("?", "yellow")}  # fmt: skip


def _print_changes(changes: list[Change]) -> None:
    """What applying would change on each node, terraform-plan style."""
    if not changes:
        return
    out.print("  changes on the nodes:")
    for change in changes:
        mark, colour = CHANGE_MARK[change.action]
        out.print(f"    [{colour}]{mark} {escape(change.node)}: {escape(change.target)}[/]"
                  + (" (no change)" if change.action == "unchanged" else ""))  # fmt: skip
        for f in change.fields:
            before = "(none)" if f.before is None else f.before
            after = "(none)" if f.after is None else f.after
            by = "" if f.source == "user" else f"  [dim]({escape(f.source)})[/]"
            if f.before is None and change.action == "create":
                out.print(f"        {escape(f.field)}: {escape(after)}{by}")
            else:
                out.print(f"        {escape(f.field)}: {escape(before)} -> {escape(after)}{by}")
        if change.diff:
            for line in change.diff.splitlines():
                tone = "green" if line.startswith("+") else ("red" if line.startswith("-") else "")
                shown = f"        {line}"
                out.print(f"[{tone}]{escape(shown)}[/]" if tone else shown, markup=bool(tone), highlight=False)


def _completed_line(outcome: Outcome) -> str:
    """Why a plan is incomplete, with the Completed condition it is (reason included)."""
    found = outcome.status.condition("Completed") if outcome.status is not None else None
    if found is None or found.status == "True":
        return outcome.message
    return f"Completed={found.status} ({found.reason}): {outcome.message}"


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        return [pair for k, v in value.items() for pair in _flatten(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), value)]
