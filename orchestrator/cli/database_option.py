"""The --database-url option, shared by `agent run`, `worker` and `status`."""

from typing import Any

import typer

from synthgen.orchestrator.defaults import DATABASE_URL_ENV


def database_url_option(what: str) -> Any:
    """A --database-url option (also read from SYNTHGEN_DATABASE_URL) whose help starts with `what`."""
    return typer.Option(envvar=DATABASE_URL_ENV, help=what, show_default=False, show_envvar=True)
