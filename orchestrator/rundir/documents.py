"""Reading documents from disk: the only place the pipeline touches the user's input files."""

import os
from pathlib import Path

from synthgen.errors import InputError
from synthgen.orchestrator.defaults import DEFAULT_MAX_BYTES
from synthgen.schemas.document import SourceDocument
from synthgen.tools.parser import parse_document

MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdx", ".txt"}


def load_document(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> SourceDocument:
    """Read and parse one markdown file, refusing anything that is not a usable text document."""
    label = str(path)
    if not path.exists():
        raise InputError(f"{label} does not exist: check the path")
    if path.is_dir():
        raise InputError(f"{label} is a directory: give the markdown files inside it, e.g. {label}/*.md")
    if path.suffix.lower() not in MARKDOWN_SUFFIXES:
        raise InputError(
            f"{label} is not a markdown file (expected one of {', '.join(sorted(MARKDOWN_SUFFIXES))}): "
            "convert it to markdown first"
        )
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{label} is {size:,} bytes, over the {max_bytes:,}-byte limit: split it or raise --max-bytes")
    try:
        data = path.read_bytes()
    except PermissionError:
        raise InputError(f"{label} is not readable: check its permissions") from None
    except OSError as err:
        raise InputError(f"{label} could not be read ({os.strerror(err.errno or 0) or err}): check the file") from None
    return parse_document(label, data)


def load_documents(paths: list[Path], max_bytes: int = DEFAULT_MAX_BYTES) -> list[SourceDocument]:
    documents = [load_document(path, max_bytes) for path in paths]
    seen: dict[str, str] = {}
    for doc in documents:
        if doc.sha256 in seen:
            raise InputError(f"{doc.path} has the same content as {seen[doc.sha256]}: give each document once")
        seen[doc.sha256] = doc.path
    return documents
