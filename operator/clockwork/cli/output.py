"""What the commands print: tables whose names stay whole, and outcomes as tables or JSON."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from clockwork.api.common import ResourceStatus
from clockwork.api.registry import ALL_KINDS
from clockwork.local import Outcome

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def escape(text: str) -> str:
    return text.replace("[", r"\[")


def add_columns(table: Table, whole: tuple[str, ...], *prose: str) -> None:
    """Columns of names, refs and short words (``whole``) are never broken: a name split
    mid-word cannot be read or copied. The ``prose`` columns take the width that is
    left and wrap at spaces (a word longer than the column, such as a path, folds)."""
    for column in whole:
        table.add_column(column, no_wrap=True, overflow="fold")
    for column in prose:
        table.add_column(column, overflow="fold")


# Width a prose column keeps at least beside whole names, before the names give way.
PROSE_MIN = 10


def print_table(table: Table) -> None:
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


def exit_for(outcomes: list[Outcome]) -> NoReturn:
    sys.exit(EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED)


def _kind_of(outcome: Outcome) -> str:
    return outcome.ref.split("/", 1)[0]


def phased(outcome: Outcome) -> bool:
    """Whether the outcome's kind says where it is by its phase (a fleet kind), not by Ready."""
    info = ALL_KINDS.get(_kind_of(outcome))
    return info is not None and info.ready_phases is not None


def _result_word(outcome: Outcome) -> str:
    if phased(outcome) and outcome.intent not in ("destroy", "plan"):
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
    if type_ == "Ready" and info is not None:
        type_ = info.ready_condition
    found = next((c for c in getattr(status, "conditions", []) if c.type == type_), None)
    return found.status if found else "-"


def outcome_json(outcome: Outcome) -> dict[str, Any]:
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


def print_outcomes(outcomes: list[Outcome], output: str, title: str) -> None:
    if output == "json":
        click.echo(json.dumps([outcome_json(o) for o in outcomes], indent=2))
        return
    table = Table(title=title, title_justify="left")
    add_columns(table, ("RESOURCE", "RESULT", "READY", "HEALTHY"), "MESSAGE")
    for o in outcomes:
        colour = "green" if o.ok else "red"
        gone = o.forgotten or not o.known
        table.add_row(
            o.ref,
            _result_word(o),
            "-" if gone else _condition(_kind_of(o), o.status, "Ready"),
            "-" if gone else _condition(_kind_of(o), o.status, "Healthy"),
            f"[{colour}]{escape(o.message)}[/]",
        )
    print_table(table)


def say_unavailable(outcomes: list[Outcome]) -> None:
    """Each distinct reason completion was unavailable, once on stderr (the table has it per resource)."""
    reasons: dict[str, int] = {}
    for o in outcomes:
        found = o.status.condition("Completed") if isinstance(o.status, ResourceStatus) else None
        if found is not None and found.reason == "CompletionUnavailable":
            reasons[found.message] = reasons.get(found.message, 0) + 1
    for message, count in reasons.items():
        err.print(f"[bold red]error:[/] {escape(message)} ({count} resource(s) not completed)")
