"""`synthgen status RUN_DIR`: the state of a run, finished or in progress, read from its database."""

from pathlib import Path
from typing import Annotated

import typer

from synthgen.orchestrator.cli.database_option import database_url_option
from synthgen.orchestrator.cli.errors import friendly_errors


def status_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/<run_id>.", show_default=False)],
    database_url: Annotated[
        str | None,
        database_url_option("The database the run was started with (default: the SQLite file in the run directory)."),
    ] = None,
) -> None:
    """Show a run's documents (done, in flight, queued, failed), examples, tokens, cost and ETA.

    Safe from another terminal while the run goes on: it only reads.
    """
    from synthgen.orchestrator.run.status import read_status

    with friendly_errors():
        text = read_status(run_dir, database_url)
    typer.echo(text)
