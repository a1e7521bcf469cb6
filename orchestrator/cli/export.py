"""`synthgen export`: write a validated run in the formats eval tools load."""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from synthgen.orchestrator.cli.errors import friendly_errors
from synthgen.orchestrator.exports.registry import ALL, FORMATS, resolve_formats

EXPORTS_DIR = "exports"


@dataclass(frozen=True)
class WrittenExport:
    format: str
    path: Path
    files: list[str]
    examples: int


def export(run_dir: Path, format: str, out: Path | None = None, force: bool = False) -> list[WrittenExport]:
    """Export RUN_DIR as `format` (or every format, for "all") and say where the files went.

    A single format goes to `out` (default RUN_DIR/exports/<format>); "all" puts each format in
    a subfolder of `out` (default RUN_DIR/exports). Everything is checked and rendered before
    anything is written, and each folder appears whole or not at all.
    """
    # Imported here: reading a run loads its pydantic models, which `synthgen --help` must not pay for.
    from synthgen.orchestrator.exports.files import ExportTarget, write_exports
    from synthgen.orchestrator.exports.loaded import load_run

    formats = resolve_formats(format)
    run = load_run(run_dir)
    if format.strip().lower() == ALL:
        base = out if out is not None else run_dir / EXPORTS_DIR
        paths = {f.name: base / f.name for f in formats}
    else:
        paths = {formats[0].name: out if out is not None else run_dir / EXPORTS_DIR / formats[0].name}
    targets = {f.name: ExportTarget(path=paths[f.name], files=f.render(run)) for f in formats}
    write_exports(list(targets.values()), force, run_dir)
    return [
        WrittenExport(format=name, path=target.path, files=sorted(target.files), examples=len(run.examples))
        for name, target in targets.items()
    ]


def export_command(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory, e.g. runs/<run_id>.", show_default=False)],
    format: Annotated[
        str, typer.Option("--format", "-f", show_default=False, help=f"One of: {', '.join(FORMATS)}, or {ALL}.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            show_default=False,
            help="Output folder (default: RUN_DIR/exports/FORMAT; with --format all, RUN_DIR/exports, "
            "one subfolder per format).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an export folder that synthgen export wrote before.")
    ] = False,
) -> None:
    """Export a validated run for DeepEval, Evidently, Giskard, pydantic-evals, chat JSONL or Hugging Face datasets."""
    with friendly_errors():
        written = export(run_dir, format, out, force)
    for item in written:
        typer.echo(f"{item.format}: {item.examples} examples -> {item.path}/ ({', '.join(item.files)})")
