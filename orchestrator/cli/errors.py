"""How every synthgen command reports failure: one line on stderr, exit 1, never a traceback."""

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from typer._click.exceptions import BadParameter, ClickException, NoArgsIsHelpError, UsageError  # typer vendors click
from typer.core import TyperGroup

from synthgen.errors import SynthgenError
from synthgen.orchestrator.observe.redact import redact


@contextmanager
def friendly_errors() -> Iterator[None]:
    """A SynthgenError becomes one line on stderr and exit code 1."""
    try:
        yield
    except SynthgenError as err:
        typer.echo(redact(f"synthgen: error: {err}"), err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("synthgen: interrupted", err=True)
        raise typer.Exit(130) from None


class OneLineUsageErrors(TyperGroup):
    """The root command: a usage error (bad flag value, unknown option) is one line on stderr and exit 1,
    like every other synthgen error, instead of click's usage block, rich panel and exit 2.

    It works both from the console script and through `typer.testing.CliRunner`, which both call `main()`.
    `--help`, and a bare command printing its help, behave as before.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as err:  # a bare command prints its help on stdout, as `--help` does
            typer.echo(err.format_message())
            sys.exit(err.exit_code)
        except ClickException as err:
            typer.echo(redact(f"synthgen: error: {usage_line(err)}"), err=True)
            sys.exit(1)
        except typer.Abort:
            typer.echo("synthgen: error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _bound(value: object, unbounded: str) -> str:
    if value is None:
        return unbounded
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return f"{int(value):,}" if whole else f"{value:g}"  # type: ignore[call-overload]


def usage_line(err: ClickException) -> str:
    message = " ".join(err.format_message().split()).rstrip(".")
    message = message[:1].lower() + message[1:]
    param = getattr(err, "param", None)
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if isinstance(err, BadParameter) and (low is not None or high is not None):
        message += f"; the range is {_bound(low, 'any')} to {_bound(high, 'any')}"
    ctx = getattr(err, "ctx", None)
    if isinstance(err, UsageError) and ctx is not None:
        return f"{message} (see `{ctx.command_path} --help`)"
    return message
