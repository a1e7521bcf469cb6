"""Where a run's DBOS system database lives, and its URL as it may be shown (never with its password).

With no configuration it is a SQLite file inside the run directory: nothing to install or start.
`--database-url` or SYNTHGEN_DATABASE_URL puts it in Postgres, where several worker processes
(or machines) share the document queue.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from synthgen.errors import InputError
from synthgen.orchestrator.defaults import DATABASE_URL_ENV
from synthgen.orchestrator.observe.redact import redact
from synthgen.schemas.layout import DATABASE_FILE

_SCHEMES = ("postgresql+psycopg", "postgresql", "postgres", "sqlite")


@dataclass(frozen=True)
class DatabaseTarget:
    url: str  # as DBOS needs it, password included: never print it, print `shown`
    in_run_dir: bool = False  # the default: a SQLite file of the run directory's own

    @property
    def shown(self) -> str:
        return redact(self.url)

    @property
    def embedded(self) -> bool:
        return self.url.startswith("sqlite")

    def missing(self) -> bool:
        """A SQLite file that does not exist (yet): opening it would create it, empty."""
        return self.embedded and not Path(self.url.split(":///", 1)[-1]).is_file()

    def hide(self, text: str) -> str:
        """`text` (e.g. a driver's error) with the URL's password, if any, masked like every other secret."""
        password = urlsplit(self.url).password
        return redact(text, [password] if password else [])


def database_target(url: str | None, run_dir: Path | None = None) -> DatabaseTarget:
    """--database-url, else SYNTHGEN_DATABASE_URL, else the SQLite file in the run directory."""
    url = url or os.environ.get(DATABASE_URL_ENV) or None
    if url is None:
        if run_dir is None:
            raise InputError(f"no database: give --database-url or set {DATABASE_URL_ENV}")
        return DatabaseTarget(f"sqlite:///{(run_dir / DATABASE_FILE).absolute()}", in_run_dir=True)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in _SCHEMES:
        raise InputError(
            f"--database-url {redact(url)}: not a database URL; "
            "give e.g. postgresql+psycopg://user@host:5432/synthgen (user:password@host when it needs one)"
        )
    if scheme in ("postgresql", "postgres"):  # DBOS talks to Postgres through psycopg 3
        url = "postgresql+psycopg" + url[len(scheme) :]
    return DatabaseTarget(url)


def check_reachable(target: DatabaseTarget, timeout: float = 5.0) -> None:
    """InputError naming the URL (without its password) when its Postgres server cannot be used.
    A database that does not exist yet is fine: DBOS creates it. SQLite needs no check."""
    if target.embedded:
        return
    import sqlalchemy  # comes with dbos; only runs that use a database URL pay for the import

    engine = sqlalchemy.create_engine(target.url, connect_args={"connect_timeout": max(1, int(timeout))})
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as err:
        reason = target.hide(str(getattr(err, "orig", err)).strip().splitlines()[0] if str(err).strip() else "")
        if "does not exist" in reason and "database" in reason:
            return
        raise InputError(f"cannot reach the database {target.shown}: {reason}; check --database-url") from None
    finally:
        engine.dispose()
