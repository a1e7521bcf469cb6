"""The report as one HTML file: jinja2 with autoescape, so document and model text is always escaped."""

from pathlib import Path

import jinja2

from synthgen.errors import InputError
from synthgen.orchestrator.report.build import build_report
from synthgen.orchestrator.report.view import ReportView, line_anchor
from synthgen.orchestrator.rundir.directory import write_atomically
from synthgen.schemas.layout import REPORT_FILE
from synthgen.schemas.outcomes import OUTCOMES

TEMPLATE = "report.html.j2"


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("synthgen.orchestrator.report", "."),
        autoescape=True,  # every value is HTML-escaped unless the template says otherwise (it never does)
        undefined=jinja2.StrictUndefined,  # a misspelt field is an error, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["line_anchor"] = line_anchor
    environment.globals["outcomes"] = OUTCOMES  # the matrix's columns and the outcome filter's choices, in order
    environment.filters["count"] = lambda n: f"{n:,}"
    return environment


def render_report(view: ReportView) -> str:
    return _environment().get_template(TEMPLATE).render(report=view)


def report_path(run_dir: Path, out: Path | None) -> Path:
    return out if out is not None else run_dir / REPORT_FILE


def write_report(run_dir: Path, out: Path | None = None, force: bool = False) -> Path:
    """Write the report of RUN_DIR (to RUN_DIR/report.html by default) and return where it went.

    The run is read and checked, and the page rendered, before anything is written; an existing
    file is replaced, atomically, only with `force`.
    """
    path = report_path(run_dir, out)
    if path.is_dir():
        raise InputError(f"--out {path} is a directory: give a file name, e.g. {path / REPORT_FILE}")
    if path.exists() and not force:
        raise InputError(f"{path} already exists: pass --force to replace it, or choose another --out")
    html = render_report(build_report(run_dir))
    try:
        write_atomically(path, html.encode())
    except OSError as err:
        raise InputError(f"cannot write {path} ({err.strerror or err}): choose another --out") from None
    return path
