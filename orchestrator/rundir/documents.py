"""Reading documents from disk: the only place the pipeline touches the user's input files."""

import os
import stat
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
    try:
        data = _read_at_most(path, label, max_bytes)
    except PermissionError:
        raise InputError(f"{label} is not readable: check its permissions") from None
    except OSError as err:
        raise InputError(f"{label} could not be read ({os.strerror(err.errno or 0) or err}): check the file") from None
    return parse_document(label, data)


def _read_at_most(path: Path, label: str, max_bytes: int) -> bytes:
    """The bytes of a regular file, reading no more than `max_bytes` + 1 of them.

    Opened without blocking, so a FIFO named x.md is refused rather than waited on; a link to a
    device (/dev/zero) is refused rather than read until memory runs out.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{label} is not a regular file (it is {_kind(info.st_mode)}): give a markdown file")
        if info.st_size > max_bytes:
            raise InputError(
                f"{label} is {info.st_size:,} bytes, over the {max_bytes:,}-byte limit: split it or raise --max-bytes"
            )
        data = handle.read(max_bytes + 1)  # the file may have grown since it was measured
    if len(data) > max_bytes:
        raise InputError(f"{label} is over the {max_bytes:,}-byte limit: split it or raise --max-bytes")
    return data


def _kind(mode: int) -> str:
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
             stat.S_ISSOCK: "a socket"}  # fmt: skip
    return next((name for test, name in kinds.items() if test(mode)), "not a file")


def load_documents(paths: list[Path], max_bytes: int = DEFAULT_MAX_BYTES) -> list[SourceDocument]:
    documents = [load_document(path, max_bytes) for path in paths]
    seen: dict[str, str] = {}
    for doc in documents:
        if doc.sha256 in seen:
            raise InputError(f"{doc.path} has the same content as {seen[doc.sha256]}: give each document once")
        seen[doc.sha256] = doc.path
    return documents
