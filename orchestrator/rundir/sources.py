"""What the document arguments of `synthgen agent run` name: files, directories and globs."""

import glob
from pathlib import Path

from synthgen.errors import InputError

DIRECTORY_PATTERN = "*.md"  # what a directory argument contributes, searched recursively
_GLOB_CHARS = frozenset("*?[")


def expand_sources(arguments: list[Path]) -> list[Path]:
    """The documents the arguments name, in order: a file as given, a directory's markdown files
    (recursively, sorted, hidden directories skipped), a glob's matches (sorted; `**` recurses).
    A path named twice counts once. InputError for a directory or glob that names no document."""
    found: dict[Path, Path] = {}  # resolved -> as given
    for argument in arguments:
        for path in _expand(argument):
            found.setdefault(path.resolve(), path)
    return list(found.values())


def _expand(argument: Path) -> list[Path]:
    text = str(argument)
    if argument.is_dir():
        files = sorted(
            path
            for path in argument.rglob(DIRECTORY_PATTERN)
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(argument).parts)
        )
        if not files:
            raise InputError(
                f"{text} is a directory with no markdown ({DIRECTORY_PATTERN}) files in it: check the path"
            )
        return files
    if not argument.exists() and _GLOB_CHARS & set(text):
        matches = sorted(Path(match) for match in glob.glob(text, recursive=True) if Path(match).is_file())
        if not matches:
            raise InputError(f"{text} matches no file: check the pattern")
        return matches
    return [argument]  # load_document says what is wrong with it, if anything
