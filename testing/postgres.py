"""A throwaway Postgres cluster on 127.0.0.1 for tests and benchmarks: `with throwaway_postgres() as url:`.

It needs the server binaries (Debian's `postgresql` package: /usr/lib/postgresql/<version>/bin);
`postgres_binaries()` is None without them, so a test can skip, or fail under CI=true. As root the
cluster is owned by the `postgres` system user (initdb refuses root). fsync is off: the cluster
lives for one test and durability across a power cut is not what is being tested.
"""

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SEARCH = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin", "/usr/bin")


def postgres_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, newest version first; None if Postgres is not installed."""
    for pattern in _SEARCH:
        for folder in sorted(Path("/").glob(pattern.lstrip("/")), reverse=True):
            if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
                return folder
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_postgres(database: str = "synthgen") -> Iterator[str]:
    """Start a cluster, yield a psycopg URL for `database` (DBOS creates it), then stop and delete it."""
    binaries = postgres_binaries()
    if binaries is None:
        raise RuntimeError("no Postgres server binaries (initdb, pg_ctl): apt-get install postgresql")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="synthgen-pg-"))
    if as_postgres:
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    run = lambda *args: subprocess.run([*as_postgres, *args], check=True, capture_output=True)
    try:
        run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off -c max_connections=200"
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", options, "start")
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"
        finally:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
