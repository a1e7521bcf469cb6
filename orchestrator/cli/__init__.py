"""The `synthgen` command line: the Typer app, each command's module, error and summary rendering."""
