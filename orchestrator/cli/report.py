"""`synthgen report`: the run as one HTML page to review in a browser."""

from pathlib import Path
from typing import Annotated

import typer

from synthgen.orchestrator.cli.errors import friendly_errors


def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory, e.g. runs/<run_id>.", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="The HTML file to write (default: RUN_DIR/report.html).", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write one self-contained HTML page to review a run: stages, policy coverage, every example with its
    evidence highlighted in the source, what was rejected and why. Prints the file's path."""
    # Imported here: reading a run loads pydantic models and jinja2, which `synthgen --help` must not pay for.
    from synthgen.orchestrator.report.render import write_report

    with friendly_errors():
        path = write_report(run_dir, out, force)
    typer.echo(path)
