"""`synthgen worker --database-url URL [--id NAME]`: take documents of a run from a shared queue."""

from typing import Annotated

import typer

from synthgen.orchestrator.cli.database_option import database_url_option
from synthgen.orchestrator.cli.errors import friendly_errors
from synthgen.orchestrator.defaults import RetryPolicy


def worker_command(
    database_url: Annotated[
        str | None,
        database_url_option("The database the run was started with (`synthgen agent run ... --database-url`)."),
    ] = None,
    worker_id: Annotated[
        str | None,
        typer.Option(
            "--id",
            help="This worker's name (default: the host name). A worker restarted with the same name takes back "
            "the documents it had in flight when it died.",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More detail on stderr (-vv: libraries too).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")] = False,
) -> None:
    """Work on the documents of the run in progress in a database until none are left.

    Model calls are appended to the run directory's calls.jsonl: run workers where that directory
    is, or on a file system shared with it. The API key comes from this process's environment.
    """
    import asyncio
    import socket

    from synthgen.orchestrator.llm.resolve import resolve_model
    from synthgen.orchestrator.observe.logs import configure_logging
    from synthgen.orchestrator.run.worker import find_run, serve
    from synthgen.orchestrator.rundir.database import check_reachable, database_target

    configure_logging(verbose, quiet, "text")
    with friendly_errors():
        target = database_target(database_url)
        check_reachable(target)
        spec = find_run(target)
        model = resolve_model(spec.config.model, spec.config.base_url, spec.replay, RetryPolicy())

        async def work() -> None:
            async with model:
                report = await serve(target, spec, model, worker_id or socket.gethostname())
            typer.echo(f"worker done: run {report.run_id}, {report.live_calls} live and {report.replayed_calls} "
                       "replayed model call(s)")  # fmt: skip

        asyncio.run(work())
