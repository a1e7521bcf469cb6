"""The `synthgen` command: a thin Typer layer over orchestrator functions.

Every command imports what it runs inside its body, not here: pydantic-ai, logfire and openai
take seconds to import, and `synthgen --help` and `--version` must not pay for them, nor
`validate` and `eval` for pydantic-ai and openai (tests/test_startup.py keeps it so;
benchmarks/startup.py measures it).
"""

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from synthgen.orchestrator.cli.database_option import database_url_option
from synthgen.orchestrator.cli.errors import OneLineUsageErrors, friendly_errors
from synthgen.orchestrator.cli.export import export_command
from synthgen.orchestrator.cli.models import models_app
from synthgen.orchestrator.cli.report import report_command
from synthgen.orchestrator.cli.status import status_command
from synthgen.orchestrator.cli.trace import trace_command
from synthgen.orchestrator.cli.worker import worker_command
from synthgen.orchestrator.defaults import DEFAULT_MAX_BYTES, DEFAULT_MODEL, LogFormat, RetryPolicy
from synthgen.orchestrator.run.failures import DEFAULT_MAX_FAILURE_RATE

if TYPE_CHECKING:
    from synthgen.orchestrator.llm.resolve import ResolvedModel
    from synthgen.orchestrator.observe.logs import Progress
    from synthgen.orchestrator.run.pipeline import RunOptions, RunResult
    from synthgen.schemas.document import SourceDocument

app = typer.Typer(
    cls=OneLineUsageErrors,  # a bad flag value is one line on stderr and exit 1, like every other error
    name="synthgen",
    no_args_is_help=True,
    add_completion=False,
    # Plain help, as click prints it: Typer's rich help alone takes 2.5x a bare `import typer` to draw.
    rich_markup_mode=None,
    help="Turn a policy or spec document into a verified, line-cited evaluation dataset.",
)
# Every numeric flag is bounded, so no value reaches a 64-bit field (JSON, the model's seed) it cannot fit.
# Seeds stay in 0..2^31-1: llama.cpp reads -1 and 2^32-1 as "random", other servers take int32.
MAX_SEED = 2**31 - 1

agent_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Run the multi-agent dataset pipeline.")
app.add_typer(agent_app, name="agent")
app.add_typer(models_app, name="models")
app.command("export")(export_command)
app.command("trace")(trace_command)
app.command("report")(report_command)
app.command("worker")(worker_command)
app.command("status")(status_command)


def _show_version(value: bool) -> None:
    if value:
        from synthgen import __version__  # reads the installed package's metadata: only when asked

        typer.echo(f"synthgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


async def _run_and_close(
    docs: "list[SourceDocument]", model: "ResolvedModel", options: "RunOptions", progress: "Progress | None" = None
) -> "RunResult":
    from synthgen.orchestrator.run.pipeline import run_pipeline

    async with model:  # an embedded model server must not outlive its run
        return await run_pipeline(docs, model, options, progress)


@agent_app.command("run")
def run(
    documents: Annotated[
        list[Path],
        typer.Argument(
            help="Markdown documents to turn into one dataset: files, directories (their *.md files, recursively) "
            "or quoted globs such as 'policies/**/*.md'.",
            show_default=False,
        ),
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
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed for the model and the covering array.")] = 42,
    max_examples: Annotated[
        int | None,
        typer.Option(min=1, max=1_000_000, help="Cap on examples written (default: no cap).", show_default=False),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(min=1, max=1000, help="Most model calls in flight at once (fewer while the server answers 429)."),
    ] = 4,
    max_revisions: Annotated[
        int, typer.Option(min=0, max=100, help="Times the supervisor may send an example back.")
    ] = 2,
    window_tokens: Annotated[
        int,
        typer.Option(
            min=200,
            max=1_000_000,
            help="Token budget of one extraction batch: the candidate statements it shows and their decisions.",
        ),
    ] = 1500,
    strength: Annotated[
        int, typer.Option(min=1, max=4, help="Covering-array strength: 2 = every pair of axis values.")
    ] = 2,
    max_bytes: Annotated[
        int, typer.Option(min=1, max=100_000_000, help="Largest document accepted, in bytes.")
    ] = DEFAULT_MAX_BYTES,
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
            max=1_000_000.0,
            help="Stop once live model calls have cost this many USD (list prices, genai-prices); refuse to start "
            "when the estimate is higher or the model has no known price. Replayed calls are free.",
            show_default=False,
        ),
    ] = None,
    max_attempts: Annotated[
        int,
        typer.Option(
            min=1,
            max=100,
            help="HTTP attempts per model request, the first included, on 429, 5xx, timeouts, dropped connections "
            "and broken responses (OpenAI-compatible models).",
        ),
    ] = RetryPolicy.max_attempts,
    max_wait: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=86_400.0,
            help="Seconds one model request may wait between its attempts, in total; it gives up rather than retry "
            "before a server's Retry-After.",
        ),
    ] = RetryPolicy.max_wait,
    timeout: Annotated[
        float,
        typer.Option(min=0.1, max=86_400.0, help="Seconds one attempt may take before it is retried as a timeout."),
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
    database_url: Annotated[
        str | None,
        database_url_option(
            "DBOS system database holding the document queue, e.g. postgresql+psycopg://user:pw@host/synthgen "
            "to share it with `synthgen worker` processes (default: a SQLite file in the run directory)."
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More detail on stderr (-vv: libraries too).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")] = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="Logs on stderr as text lines or JSON objects.")
    ] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="Print the final summary as JSON.")] = False,
    no_report: Annotated[
        bool,
        typer.Option("--no-report", help="Do not write report.html (see `synthgen report`) into the run directory."),
    ] = False,
) -> None:
    """Extract use cases and policies from DOCUMENTS, design test cases and write a verified dataset."""
    from synthgen.orchestrator.cli.summary import render_summary, summary_json
    from synthgen.orchestrator.llm.resolve import resolve_model
    from synthgen.orchestrator.observe.logs import configure_logging, make_progress
    from synthgen.orchestrator.observe.tracing import configure_logfire, flush_traces
    from synthgen.orchestrator.run.interrupts import Interrupted, resume_line, run_interruptible
    from synthgen.orchestrator.run.pipeline import RunOptions, run_config
    from synthgen.orchestrator.rundir.directory import RUNS_DIR, run_id_for
    from synthgen.orchestrator.rundir.documents import load_documents
    from synthgen.orchestrator.rundir.sources import expand_sources

    configure_logging(verbose, quiet, log_format)
    with friendly_errors():
        configure_logfire()
        docs = load_documents(expand_sources(documents), max_bytes)
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
            database_url=database_url,
        )
        try:
            result = run_interruptible(_run_and_close(docs, resolved, options, make_progress(quiet, log_format)))
        except Interrupted as stop:  # Ctrl-C or SIGTERM: one line that says how to resume
            run_dir = options.out or RUNS_DIR / run_id_for(docs, run_config(resolved, options))
            typer.echo(resume_line(stop, run_dir), err=True)
            raise typer.Exit(stop.exit_code) from None
        finally:
            flush_traces()
        report = None
        if not no_report:  # the run's own page: rewritten by every run, so no --force is needed
            from synthgen.orchestrator.report.render import write_report

            report = write_report(result.run_dir, force=True)
    typer.echo(summary_json(result, report) if as_json else render_summary(result, report))


@app.command()
def validate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/<run_id>.", show_default=False)],
) -> None:
    """Re-check a finished run: schemas, every evidence quote against its source, IDs and lineage."""
    from synthgen.orchestrator.rundir.validate import validate_run

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
    from synthgen.orchestrator.rundir.evaluate import eval_json, evaluate_run, read_gold, render_eval

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
