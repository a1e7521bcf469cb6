"""The `synthgen` command: a thin Typer layer over orchestrator functions."""

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from synthgen import __version__
from synthgen.orchestrator.cli.errors import OneLineUsageErrors, friendly_errors
from synthgen.orchestrator.cli.export import export_command
from synthgen.orchestrator.cli.models import models_app
from synthgen.orchestrator.cli.summary import render_summary, summary_json
from synthgen.orchestrator.llm.resolve import DEFAULT_MODEL, ResolvedModel, resolve_model
from synthgen.orchestrator.llm.retries import RetryPolicy
from synthgen.orchestrator.observe.logs import LogFormat, Progress, configure_logging, make_progress
from synthgen.orchestrator.observe.trace_view import trace_command
from synthgen.orchestrator.observe.tracing import configure_logfire, flush_traces
from synthgen.orchestrator.run.failures import DEFAULT_MAX_FAILURE_RATE
from synthgen.orchestrator.run.interrupts import Interrupted, resume_line, run_interruptible
from synthgen.orchestrator.run.pipeline import RunOptions, RunResult, run_config, run_pipeline
from synthgen.orchestrator.rundir.directory import RUNS_DIR, run_id_for
from synthgen.orchestrator.rundir.documents import DEFAULT_MAX_BYTES, load_documents
from synthgen.orchestrator.rundir.evaluate import eval_json, evaluate_run, read_gold, render_eval
from synthgen.orchestrator.rundir.validate import validate_run
from synthgen.schemas.document import SourceDocument

app = typer.Typer(
    cls=OneLineUsageErrors,  # a bad flag value is one line on stderr and exit 1, like every other error
    name="synthgen",
    no_args_is_help=True,
    add_completion=False,
    help="Turn a policy or spec document into a verified, line-cited evaluation dataset.",
)
agent_app = typer.Typer(no_args_is_help=True, help="Run the multi-agent dataset pipeline.")
app.add_typer(agent_app, name="agent")
app.add_typer(models_app, name="models")
app.command("export")(export_command)
app.command("trace")(trace_command)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"synthgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


def _configure_logging(verbose: int, quiet: bool, log_format: LogFormat = "text") -> None:
    configure_logging(verbose, quiet, log_format)


async def _run_and_close(
    docs: list[SourceDocument], model: ResolvedModel, options: RunOptions, progress: Progress | None = None
) -> RunResult:
    async with model:  # an embedded model server must not outlive its run
        return await run_pipeline(docs, model, options, progress)


@agent_app.command("run")
def run(
    documents: Annotated[
        list[Path], typer.Argument(help="Markdown documents to turn into one dataset.", show_default=False)
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run directory (default: runs/RUN_ID).", show_default=False)
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help=f"pydantic-ai model string, or local / local:1.5b for the embedded model (default: {DEFAULT_MODEL} "
            "when OPENAI_API_KEY is set, else local).",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible server for the model, e.g. http://127.0.0.1:8080/v1.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the model and the covering array.")] = 42,
    max_examples: Annotated[
        int | None, typer.Option(min=1, help="Cap on examples written (default: no cap).", show_default=False)
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Most model calls in flight at once (fewer while the server answers 429).")
    ] = 4,
    max_revisions: Annotated[int, typer.Option(min=0, help="Times the supervisor may send an example back.")] = 2,
    window_tokens: Annotated[
        int,
        typer.Option(
            min=200, help="Token budget of one extraction batch: the candidate statements it shows and their decisions."
        ),
    ] = 1500,
    strength: Annotated[
        int, typer.Option(min=1, max=4, help="Covering-array strength: 2 = every pair of axis values.")
    ] = 2,
    max_bytes: Annotated[int, typer.Option(min=1, help="Largest document accepted, in bytes.")] = DEFAULT_MAX_BYTES,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay", help="Answer only from the run's calls.jsonl; fail on a call that was never recorded."
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Start over in an --out that holds another run.")] = False,
    max_cost: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Stop once live model calls have cost this many USD (list prices, genai-prices); refuse to start "
            "when the estimate is higher or the model has no known price. Replayed calls are free.",
            show_default=False,
        ),
    ] = None,
    max_attempts: Annotated[
        int,
        typer.Option(
            min=1,
            help="HTTP attempts per model request, the first included, on 429, 5xx, timeouts, dropped connections "
            "and broken responses (OpenAI-compatible models).",
        ),
    ] = RetryPolicy.max_attempts,
    max_wait: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Seconds one model request may wait between its attempts, in total; it gives up rather than retry "
            "before a server's Retry-After.",
        ),
    ] = RetryPolicy.max_wait,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds one attempt may take before it is retried as a timeout.")
    ] = RetryPolicy.timeout,
    max_failure_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Stop the run when more than this share of a stage's items still fail after their retries "
            "(0: any failure stops it, 1: never).",
        ),
    ] = DEFAULT_MAX_FAILURE_RATE,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More detail on stderr (-vv: libraries too).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")] = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="Logs on stderr as text lines or JSON objects.")
    ] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="Print the final summary as JSON.")] = False,
) -> None:
    """Extract use cases and policies from DOCUMENTS, design test cases and write a verified dataset."""
    _configure_logging(verbose, quiet, log_format)
    with friendly_errors():
        configure_logfire()
        docs = load_documents(documents, max_bytes)
        retry = RetryPolicy(max_attempts=max_attempts, max_wait=max_wait, timeout=timeout)
        resolved = resolve_model(model, base_url, replay, retry)
        options = RunOptions(
            out=out,
            seed=seed,
            max_examples=max_examples,
            concurrency=concurrency,
            max_revisions=max_revisions,
            window_tokens=window_tokens,
            strength=strength,
            replay=replay,
            force=force,
            max_cost=Decimal(str(max_cost)) if max_cost is not None else None,
            max_failure_rate=max_failure_rate,
        )
        try:
            result: RunResult = run_interruptible(
                _run_and_close(docs, resolved, options, make_progress(quiet, log_format))
            )
        except Interrupted as stop:  # Ctrl-C or SIGTERM: one line that says how to resume
            run_dir = options.out or RUNS_DIR / run_id_for(docs, run_config(resolved, options))
            typer.echo(resume_line(stop, run_dir), err=True)
            raise typer.Exit(stop.exit_code) from None
        finally:
            flush_traces()
    typer.echo(summary_json(result) if as_json else render_summary(result))


@app.command()
def validate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/<run_id>.", show_default=False)],
) -> None:
    """Re-check a finished run: schemas, every evidence quote against its source, IDs and lineage."""
    with friendly_errors():
        problems = validate_run(run_dir)
    if problems:
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        typer.echo(f"synthgen: error: {run_dir} has {len(problems)} problem(s), listed above", err=True)
        raise typer.Exit(1)
    typer.echo(f"{run_dir}: valid")


@app.command("eval")
def eval_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/<run_id>.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    gold: Annotated[
        Path | None,
        typer.Option(
            help="A hand-written rule list of the run's document (format of ../shared/gold): "
            "also report loose and strict recall, precision and recall per rule kind.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Score a finished run: evidence validity, lineage, duplicates, policy coverage, criteria grounding,
    and with --gold the recall of its policies against a gold rule list.

    Exits 1 when a hard bar fails: invalid files, an unverified quote or a broken reference.
    """
    with friendly_errors():
        gold_list = read_gold(gold) if gold is not None else None
        report = evaluate_run(run_dir, gold_list)
    if as_json:
        typer.echo(eval_json(report))
    else:
        typer.echo(render_eval(report))
    if not report.passed:
        raise typer.Exit(1)


def main() -> None:
    app()
