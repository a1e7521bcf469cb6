"""`synthgen --help` stays fast: the CLI module imports none of the heavy libraries (benchmarks/startup.py times it)."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from synthgen.orchestrator.cli.app import app
from synthgen.testing.scripted import ScriptedModel

HEAVY = ("pydantic_ai", "logfire", "openai", "dbos", "sqlalchemy")  # seconds to import, together


def test_importing_the_cli_imports_no_heavy_library() -> None:
    probe = (
        "import sys, synthgen.orchestrator.cli.app\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _imported_by(args: list[str]) -> tuple[str, str]:
    """(stdout, the heavy top-level packages imported) of `synthgen ARGS` in a fresh interpreter."""
    probe = (
        "import sys\n"
        "from synthgen.orchestrator.cli.app import main\n"
        f"sys.argv = ['synthgen', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return result.stdout, result.stderr.strip().splitlines()[-1]


def test_help_and_version_import_no_heavy_library() -> None:
    for args in (["--help"], ["--version"], ["agent", "run", "--help"], ["export", "--help"], ["report", "--help"],
                 ["worker", "--help"], ["status", "--help"]):  # fmt: skip
        stdout, imported = _imported_by(args)
        assert imported == "[]", args
        assert stdout.startswith(("Usage: synthgen", "synthgen ")), args


def test_validate_and_eval_import_neither_pydantic_ai_nor_openai(
    tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    doc, out = tmp_path / "rules.md", tmp_path / "run"
    doc.write_text("# Rules\nAgents must verify the customer's email before any refund.\n")
    assert CliRunner().invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "1"]).exit_code == 0
    for command in ("validate", "eval"):
        stdout, imported = _imported_by([command, str(out)])
        assert str(out) in stdout, command
        # logfire may come in through pydantic's plugin loader (logfire registers a pydantic plugin).
        assert imported in ("[]", "['logfire']"), command
