"""`synthgen trace RUN_DIR`: print a run's span tree (observe/trace_view.py renders it)."""

from pathlib import Path
from typing import Annotated

import typer

from synthgen.orchestrator.cli.errors import friendly_errors


def trace_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/<run_id>.", show_default=False)],
    item: Annotated[
        str | None,
        typer.Option(
            "--item", help="Show one item's history: an ID (uc_/pol_/tc_/ex_…) or a unique prefix.", show_default=False
        ),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Show every invocation recorded (a resumed run has several), not the last.")
    ] = False,
) -> None:
    """Print a run's span tree from its trace.jsonl: durations, tokens and cost per span."""
    from synthgen.orchestrator.observe.trace_view import render_run  # imported here: keeps `synthgen --help` fast

    with friendly_errors():
        text = render_run(run_dir, item, every)
    typer.echo(text)
