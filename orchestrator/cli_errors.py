"""How every synthgen command reports failure: one line on stderr, exit 1, never a traceback."""

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from synthgen.errors import SynthgenError


@contextmanager
def friendly_errors() -> Iterator[None]:
    """A SynthgenError becomes one line on stderr and exit code 1."""
    try:
        yield
    except SynthgenError as err:
        typer.echo(f"synthgen: error: {err}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("synthgen: interrupted", err=True)
        raise typer.Exit(130) from None
