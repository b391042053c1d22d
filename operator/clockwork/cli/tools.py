"""The tools beside local mode: doctor, the operator, and the CRD and reference generators."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click
from rich.table import Table

from clockwork import crdgen, docgen
from clockwork.cli.base import main, settings_for
from clockwork.cli.output import EXIT_FAILED, EXIT_OK, add_columns, err, escape, print_table


@main.command()
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def doctor(output: str) -> None:
    """Which runners and connectors this machine can use, and why not."""
    from clockwork.doctor import run_checks

    checks = run_checks(settings_for(None))
    if output == "json":
        click.echo(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        table = Table(title="clockwork doctor", title_justify="left")
        add_columns(table, ("AREA", "CHECK", "OK"), "DETAIL", "HINT")
        for c in checks:
            mark = "[green]yes[/]" if c.ok else ("[red]no[/]" if c.required else "[yellow]no[/]")
            table.add_row(c.area, c.name, mark, escape(c.detail), escape(c.hint))
        print_table(table)
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
    settings = settings_for(None, model=model, base_url=base_url)
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
