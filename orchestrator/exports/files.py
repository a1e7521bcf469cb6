"""Put rendered exports on disk: every folder appears whole or not at all.

Each export is written into a hidden folder beside its target, and only when every export of
the command is complete are they renamed into place, so a failure (disk full, Ctrl-C) leaves
no half-written export behind.

Every export folder carries a marker file, and `--force` replaces only a folder that has one: a
folder synthgen did not write, or one that holds the run being exported, is never deleted.
"""

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from synthgen.errors import InputError
from synthgen.orchestrator.rundir.directory import process_umask

# Relative POSIX path inside the export folder -> file content.
ExportFiles = Mapping[str, bytes]
# In every folder `synthgen export` writes: what `--force` may replace. Hidden, so loaders skip it.
EXPORT_MARKER = ".synthgen-export"
_MARKER_TEXT = b"Written by `synthgen export`; `synthgen export --force` may replace this folder.\n"


@dataclass(frozen=True)
class ExportTarget:
    path: Path
    files: ExportFiles


def check_targets(paths: list[Path], force: bool, run_dir: Path) -> None:
    """Refuse before any work is written: only an export synthgen wrote is replaced, and only with --force."""
    run = run_dir.resolve()
    for path in paths:
        if path.resolve() == run or path.resolve() in run.parents:
            raise InputError(f"--out {path} holds the run being exported ({run_dir}): choose another --out")
        if (path.exists() or path.is_symlink()) and not force:
            raise InputError(f"{path} already exists: pass --force to replace it, or choose another --out")
        if (path.exists() or path.is_symlink()) and not is_export(path):
            raise InputError(
                f"{path} exists and is not an export synthgen wrote (it has no {EXPORT_MARKER} file), so --force "
                "does not replace it: choose another --out, or remove it yourself"
            )
        blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise InputError(f"{blocking} is a file, so {path} cannot be created: choose another --out")


def is_export(path: Path) -> bool:
    """A real folder (not a link) with synthgen's export marker in it."""
    return path.is_dir() and not path.is_symlink() and (path / EXPORT_MARKER).is_file()


def write_exports(targets: list[ExportTarget], force: bool, run_dir: Path) -> None:
    check_targets([t.path for t in targets], force, run_dir)
    staged: list[tuple[Path, ExportTarget]] = []
    current = targets[0].path if targets else Path(".")
    try:
        for target in targets:
            current = target.path
            staged.append((_stage(target), target))
        for folder, target in staged:
            current = target.path
            _replace(folder, target.path)
    except OSError as err:
        raise InputError(
            f"cannot write {current}: {err.strerror or err}: check the disk, or choose another --out"
        ) from err
    finally:
        for folder, _ in staged:
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)


def _stage(target: ExportTarget) -> Path:
    target.path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=target.path.parent, prefix=f".{target.path.name}.", suffix=".tmp"))
    folder.chmod(0o777 & ~process_umask())  # mkdtemp makes 0700; an export folder gets what mkdir would give
    for name, data in {**target.files, EXPORT_MARKER: _MARKER_TEXT}.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:  # an exporter bug must not write outside the folder
            raise ValueError(f"export file name {name!r} must stay inside the export folder")
        path = folder.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return folder


def _replace(folder: Path, path: Path) -> None:
    # A directory cannot be swapped in one rename, so the old one is moved aside first and
    # only deleted once the new one is in place.
    old: Path | None = None
    if path.exists() or path.is_symlink():
        old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
        os.rmdir(old)
        os.replace(path, old)
    try:
        os.replace(folder, path)
    except BaseException:
        if old is not None:
            os.replace(old, path)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
