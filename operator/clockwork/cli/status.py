"""``clockwork status``: the recorded status of applied resources, a table per kind from
the kind's printer columns, as ``kubectl get`` shows them."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from clockwork.api.base import utcnow
from clockwork.api.registry import ALL_KINDS, Column, KindBase, column_value, is_ok
from clockwork.cli.base import fail_input, main, settings_for, with_common
from clockwork.cli.output import EXIT_FAILED, EXIT_OK, add_columns, escape, out, print_table
from clockwork.errors import InvalidResource, PermanentError
from clockwork.local import load
from clockwork.store import LocalStore


@main.command()
@with_common
def status(paths: tuple[Path, ...], state_dir: Path | None, output: str) -> None:
    """Show the recorded status of applied resources (all, or those in the files)."""
    settings = settings_for(state_dir)
    store = LocalStore(settings.state_dir)
    wanted: set[tuple[str, str, str]] | None = None
    if paths:
        try:
            wanted = {(i.kind, i.metadata.namespace, i.metadata.name) for i in load(paths, settings.input_limits)}
        except InvalidResource as exc:
            fail_input("invalid input", exc.problems, as_json=output == "json")
    try:
        # No lock: reading beside a running `clockwork watch` is safe (SQLite WAL).
        records = [r for r in store.list() if wanted is None or r.key in wanted]
    except PermanentError as exc:
        fail_input(str(exc), as_json=output == "json")
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
        add_columns(table, ("NAME", *(c.name.upper() for c in columns)), "MESSAGE")
        for r in (r for r in records if r.kind == kind):
            body = {"metadata": {"name": r.name, "namespace": r.namespace, "creationTimestamp": r.created.isoformat()},
                    "spec": r.spec, "status": r.status}  # fmt: skip
            cells = [_cell(c, column_value(c, body), now) for c in columns]
            colour = "green" if is_ok(kind, r.status) else "red"
            table.add_row(f"{r.namespace}/{r.name}", *cells, f"[{colour}]{escape(_status_message(info, r.status))}[/]")
        print_table(table)
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
