"""The run directory: bound to one run's inputs, locked while in use, written atomically."""

import contextlib
import errno
import fcntl
import functools
import hashlib
import logging
import os
import re
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
from pydantic import BaseModel, ValidationError

from synthgen.errors import RunDirectoryError
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.layout import BINDING_FILE, MANIFEST_FILE, RUN_FILES
from synthgen.schemas.manifest import OutputFile, RunBinding, RunConfig

log = logging.getLogger("synthgen")

RUNS_DIR = Path("runs")


def run_id_for(documents: Sequence[SourceDocument], config: RunConfig) -> str:
    """Same documents and settings give the same ID, so a re-run lands in the same directory."""
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.sha256):
        digest.update(doc.sha256.encode())
    digest.update(run_id_settings(config).encode())
    stem = re.sub(r"[^a-z0-9]+", "-", Path(documents[0].path).stem.lower()).strip("-") or "run"
    more = f"-and-{len(documents) - 1}-more" if len(documents) > 1 else ""
    return f"{stem}{more}-{digest.hexdigest()[:8]}"


def run_id_settings(config: RunConfig) -> str:
    """The settings that decide what a run writes, as its ID hashes them.

    Concurrency changes how fast a run goes, and the base URL where the model is served, never what
    the run is: a resume against the same model on another port replays what was recorded. (The base
    URL is hashed as null, as for a run without one, so IDs made before it was left out stay the same.)
    """
    return config.model_copy(update={"base_url": None}).model_dump_json(exclude={"concurrency"})


def bound_run_id(path: Path) -> str | None:
    """The run a directory was made for, or None for a new or empty directory."""
    for name in (BINDING_FILE, MANIFEST_FILE):
        file = path / name
        if file.exists():
            try:
                run_id = orjson.loads(file.read_bytes()).get("run_id")
            except (orjson.JSONDecodeError, AttributeError):
                run_id = None
            return run_id if isinstance(run_id, str) else f"unreadable {name}"
    return None


def check_run_dir(path: Path, run_id: str, force: bool = False) -> None:
    """Refuse a directory that cannot take this run's files, before any model call is made."""
    _refuse_a_file(path)
    previous = bound_run_id(path) if path.is_dir() else None
    if previous is None and path.is_dir():
        foreign = sorted(p.name for p in path.iterdir() if not _seeds_a_run(p.name))
        if foreign:
            held = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise RunDirectoryError(
                f"--out {path} is not empty and is not a synthgen run directory (it holds {held}): "
                "choose an empty or new --out"
            )
    if previous is not None and previous != run_id and not force:
        raise RunDirectoryError(
            f"{path} was made for other inputs or settings (run {previous}, this is {run_id}): "
            "choose another --out, or pass --force to start it over"
        )
    probe = path if path.exists() else next((p for p in path.parents if p.exists()), Path("."))
    if not probe.is_dir():
        raise RunDirectoryError(f"--out {path}: {probe} is a file, not a directory: choose another --out")
    if not os.access(probe, os.W_OK):
        raise RunDirectoryError(f"{probe} is not writable: choose another --out")


def _refuse_a_file(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise RunDirectoryError(f"--out {path} is a file, not a directory: choose another --out")


def _seeds_a_run(name: str) -> bool:
    """What a directory not yet bound to a run may hold: recorded calls to replay, or a crash's temp file."""
    return name == "calls.jsonl" or (name.startswith(".") and name.endswith(".tmp"))


class RunDirectory:
    """An open run directory: locked against a second process, then checked and bound to its run by run.json.

    The lock is on the directory itself, taken before anything in it is checked, cleaned or written,
    and held until `close()`: two runs started together on the same --out cannot both pass the checks.
    `check` runs once the lock is held and before the directory is bound: what it refuses (InputError,
    say) leaves a new directory removed and an existing one as it was.
    """

    def __init__(
        self, path: Path, binding: RunBinding, force: bool = False, check: Callable[[], None] | None = None
    ) -> None:
        self.path = path
        _refuse_a_file(path)
        created = not path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # e.g. a read-only file system, which os.access cannot tell for root
            raise RunDirectoryError(f"cannot create {path} ({err.strerror or err}): choose another --out") from None
        self._lock = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunDirectoryError(
                    f"another synthgen run is using {path}: wait for it or choose another --out"
                ) from None
            if check is not None:
                check()
            self._bind(binding, force)
        except BaseException:
            self.close()
            if created:
                with contextlib.suppress(OSError):
                    path.rmdir()  # only if still empty: a refused run leaves nothing behind
            raise

    def _bind(self, binding: RunBinding, force: bool) -> None:
        path = self.path
        check_run_dir(path, binding.run_id, force)  # again, now that no other run can change the directory
        if bound_run_id(path) not in (None, binding.run_id):
            for name in RUN_FILES:  # --force: start over, but only with what synthgen itself wrote
                (path / name).unlink(missing_ok=True)
        bound = path / BINDING_FILE
        if bound.exists():
            _check_binding(bound, binding)
        if not bound.exists() or bound.read_bytes() != json_bytes(binding):
            write_atomically(bound, json_bytes(binding))  # new, corrected, or the documents given from elsewhere

    def close(self) -> None:
        if self._lock >= 0:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = -1


def _check_binding(bound: Path, binding: RunBinding) -> None:
    """Re-check run.json against the documents given, on every re-run.

    The run ID is a hash of the documents' contents and the settings, so a run.json whose documents
    or settings differ from this run's, under the same ID, was edited or damaged: say so, then
    rewrite it from the documents given (the recorded answers were made for them).
    """
    try:
        stored = RunBinding.model_validate_json(bound.read_bytes())
    except ValidationError:
        log.warning("%s is damaged: rewritten from the documents given", bound)
        return
    had = sorted(d.sha256 for d in stored.inputs)
    has = sorted(d.sha256 for d in binding.inputs)
    if had != has:
        log.warning(
            "%s named document(s) with sha256 %s, but run %s is made of %s (edited by hand?): rewritten",
            bound, ", ".join(h[:12] for h in had), binding.run_id, ", ".join(h[:12] for h in has),
        )  # fmt: skip
    elif run_id_settings(stored.config) != run_id_settings(binding.config):
        log.warning("%s named other settings than run %s (edited by hand?): rewritten", bound, binding.run_id)


def open_run_file(path: Path, flags: int) -> int:
    """A descriptor on a run file that is a regular file of its own, never a link followed elsewhere.

    calls.jsonl and trace.jsonl are appended to (and a torn calls.jsonl cut): through a symbolic
    link that would change a file outside the run directory.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise RunDirectoryError(
                f"{path} is a symbolic link: synthgen reads and writes only regular files in a run directory; "
                "replace the link with the file itself, or choose another --out"
            ) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RunDirectoryError(f"{path} is not a regular file: remove it, or choose another --out")
    return fd


def json_bytes(data: BaseModel | Sequence[BaseModel]) -> bytes:
    if isinstance(data, BaseModel):
        plain = data.model_dump(mode="json")
    else:
        plain = [item.model_dump(mode="json") for item in data]
    return orjson.dumps(plain, option=orjson.OPT_INDENT_2) + b"\n"


def jsonl_bytes(items: Sequence[BaseModel]) -> bytes:
    return b"".join(orjson.dumps(item.model_dump(mode="json")) + b"\n" for item in items)


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~process_umask())  # mkstemp makes 0600; an output file gets what open() would give
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.cache
def process_umask() -> int:
    """The process's umask. Reading it means setting it, so it is read once, before any thread writes a file."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_file(name: str, data: bytes, records: int) -> OutputFile:
    return OutputFile(name=name, sha256=hashlib.sha256(data).hexdigest(), records=records)
