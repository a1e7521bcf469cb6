"""`synthgen --help` stays fast: the CLI module imports none of the heavy libraries (benchmarks/startup.py times it)."""

import subprocess
import sys

HEAVY = ("pydantic_ai", "logfire", "openai")  # seconds to import, together


def test_importing_the_cli_imports_no_heavy_library() -> None:
    probe = (
        "import sys, synthgen.orchestrator.cli.app\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_help_and_version_import_no_heavy_library() -> None:
    for args in (["--help"], ["--version"], ["agent", "run", "--help"], ["export", "--help"]):
        probe = (
            "import sys\n"
            "from synthgen.orchestrator.cli.app import main\n"
            f"sys.argv = ['synthgen', *{args!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}), file=sys.stderr)"
        )
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        assert result.stderr.strip() == "[]", args
        assert result.stdout.startswith(("Usage: synthgen", "synthgen ")), args
