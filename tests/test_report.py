"""`synthgen report`: one self-contained HTML page of a run, every text escaped, bad input refused in one line.

What the page does in a browser (counts, highlighting, filters, no script from the document) is
tested in a real one by tests/test_report_browser.py.
"""

import html
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from report_runs import WRITE_REJECTS, hostile_run, reject_first, replayed_cassette_run
from typer.testing import CliRunner

from synthgen.orchestrator.cli.app import app
from synthgen.orchestrator.report.build import build_report
from synthgen.schemas.layout import DATASET_FILE, MANIFEST_FILE, REPORT_FILE, TRACE_FILE
from synthgen.testing.scripted import ScriptedModel

runner = CliRunner()


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replayed_cassette_run(tmp_path_factory.mktemp("replayed") / "run")


def report_of(run_dir: Path, *args: str) -> str:
    result = runner.invoke(app, ["report", str(run_dir), *args])
    assert result.exit_code == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.is_file()
    return path.read_text()


def test_the_report_is_one_self_contained_file(replayed: Path, tmp_path: Path) -> None:
    out = tmp_path / "review.html"
    result = runner.invoke(app, ["report", str(replayed), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n"  # the path, and nothing else
    page = out.read_text()
    assert page.startswith("<!doctype html>")
    assert "<style>" in page and "<script>" in page
    # Nothing is fetched: no stylesheet, script, image or font from anywhere, no absolute URL in an attribute.
    assert not re.search(r"<(link|img|iframe|object|embed)\b|<script\s+src|url\(|@import", page)
    assert not re.search(r"""(?:src|href|action)=["']?(?:https?:)?//""", page)


def test_the_report_shows_the_run_its_stages_and_every_example(replayed: Path) -> None:
    page = report_of(replayed, "--out", str(replayed / "shown.html"))
    manifest = json.loads((replayed / MANIFEST_FILE).read_text())
    examples = [json.loads(line) for line in (replayed / DATASET_FILE).read_text().splitlines()]
    assert manifest["run_id"] in page and manifest["config"]["model"] in page
    assert "Demo quality." in page  # the cassette was recorded with the embedded local model
    for name, stage in manifest["stages"].items():
        row = re.search(rf'<tr data-stage="{name}">(.*?)</tr>', page, re.DOTALL)
        assert row is not None, name
        counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', row.group(1)))
        assert counts == {k: str(stage[k]) for k in ("requested", "accepted", "rejected")}
        for code in stage["reasons"]:
            assert f'<code class="reason">{code}</code>' in row.group(1)
    for example in examples:
        assert f'id="{example["id"]}"' in page
        assert html.escape(example["expected_output"], quote=False) in page
        for criterion in example["evaluation_criteria"]:
            for evidence in criterion["evidence"]:
                assert f'data-from="{evidence["line_start"]}" data-to="{evidence["line_end"]}"' in page


def test_rejected_examples_are_listed_with_reason_and_last_answer(replayed: Path) -> None:
    report = build_report(replayed)
    rejected = [card for card in report.examples if card.status == "rejected"]
    supervise = json.loads((replayed / MANIFEST_FILE).read_text())["stages"]["supervise"]
    assert len(rejected) == supervise["rejected"] == 2
    assert {card.rejection.reason_code for card in rejected if card.rejection} == set(supervise["reasons"])
    for card in rejected:
        assert card.rejection is not None and card.rejection.answer.text is not None
        assert (
            "answer calls final_result" in card.rejection.answer.text
        )  # the writer's answer, as trace --item shows it
        assert card.test_case.id == "tc_" + card.id.removeprefix("ex_")


def test_an_example_the_writer_failed_on_shows_the_answer_that_failed(tmp_path: Path) -> None:
    run = replayed_cassette_run(tmp_path / "run", WRITE_REJECTS)
    write = json.loads((run / MANIFEST_FILE).read_text())["stages"]["write"]
    report = build_report(run)
    rejected = [card for card in report.examples if card.status == "rejected"]
    assert [(card.rejection.stage, card.rejection.reason_code) for card in rejected if card.rejection] == [
        ("write", code) for code, n in write["reasons"].items() for _ in range(n)
    ]
    calls = [json.loads(line) for line in (run / "calls.jsonl").read_text().splitlines()]
    for card in rejected:
        assert card.rejection is not None and card.rejection.answer.text is not None
        last = [c for c in calls if c["item"] == f"example for test case {card.test_case.id}"][-1]
        answer = json.loads(last["response"]["parts"][0]["args"])  # the writer's tool call, as recorded
        assert json.dumps(answer["messages"][0]["content"], ensure_ascii=False) in card.rejection.answer.text


def test_without_trace_the_report_says_why_rejections_are_not_listed(replayed: Path, tmp_path: Path) -> None:
    trace = replayed / TRACE_FILE
    kept = trace.read_bytes()
    trace.unlink()
    try:
        report = build_report(replayed)
    finally:
        trace.write_bytes(kept)
    assert [card.status for card in report.examples] == ["accepted"] * report.accepted
    assert report.trace_note.startswith("This run directory has no trace.jsonl")


def test_policy_coverage_names_every_policy_and_why_one_is_uncovered(replayed: Path) -> None:
    report = build_report(replayed)
    policies = json.loads((replayed / "policies.json").read_text())
    assert [row.policy.id for row in report.policies] == [p["id"] for p in policies]
    examples = [json.loads(line) for line in (replayed / DATASET_FILE).read_text().splitlines()]
    for row in report.policies:
        citing = [e["id"] for e in examples if any(c["policy_id"] == row.policy.id for c in e["evaluation_criteria"])]
        assert row.cited_by == citing
        assert bool(row.uncovered_because) == (not citing)


def test_agent_run_writes_the_report_unless_told_not_to(
    tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel(decide=reject_first()))
    out = hostile_run(tmp_path)
    assert (out / REPORT_FILE).is_file()
    doc = tmp_path / "hostile.md"
    again = runner.invoke(app, ["agent", "run", str(doc), "--out", str(tmp_path / "quiet"), "--max-examples", "3",
                                "--no-report", "-q"])  # fmt: skip
    assert again.exit_code == 0, again.stderr
    assert not (tmp_path / "quiet" / REPORT_FILE).exists()


def test_document_and_model_text_are_escaped(
    tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel(decide=reject_first()))
    page = (hostile_run(tmp_path) / REPORT_FILE).read_text()
    report = build_report(tmp_path / "hostile-run")
    assert any(card.example and "<script>" in card.example.expected_output for card in report.examples)
    assert any(card.rejection and "<script>" in (card.rejection.answer.text or "") for card in report.examples)
    # The only script element is the report's own; every injected tag is text.
    assert page.count("<script") == 1 and "window.__pwned" not in page.split("<script>")[1]
    assert "<img" not in page and "</aside><script" not in page and "</pre><script" not in page
    assert "&lt;script&gt;window.__pwned = &#34;rule&#34;&lt;/script&gt;" in page


def _missing(run: Path) -> Path:
    return run / "missing"


def _incomplete(run: Path) -> Path:
    (run / DATASET_FILE).unlink()
    return run


def _edited(run: Path) -> Path:
    dataset = run / DATASET_FILE
    dataset.write_text(dataset.read_text().replace("I ", "We ", 1))
    return run


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (_missing, "does not exist: give the folder a run wrote"),
        (_incomplete, "dataset.jsonl: missing (the run did not finish?)"),
        (_edited, "dataset.jsonl: sha256 differs from the manifest"),
    ],
    ids=["missing", "incomplete", "invalid"],
)
def test_a_bad_run_directory_is_one_line_and_exit_1(
    replayed: Path, tmp_path: Path, setup: Callable[[Path], Path], message: str
) -> None:
    run = tmp_path / "copy"
    run.mkdir()
    for file in replayed.iterdir():
        (run / file.name).write_bytes(file.read_bytes())
    (run / REPORT_FILE).unlink(missing_ok=True)
    target = setup(run)
    result = runner.invoke(app, ["report", str(target)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthgen: error: ") and message in lines[0], result.stderr
    assert result.stdout == ""
    assert not (run / REPORT_FILE).exists()


def test_an_existing_file_is_replaced_only_with_force(replayed: Path, tmp_path: Path) -> None:
    out = tmp_path / "review.html"
    out.write_text("keep me")
    refused = runner.invoke(app, ["report", str(replayed), "--out", str(out)])
    assert refused.exit_code == 1
    assert (
        refused.stderr
        == f"synthgen: error: {out} already exists: pass --force to replace it, or choose another --out\n"
    )
    assert out.read_text() == "keep me"
    assert runner.invoke(app, ["report", str(replayed), "--out", str(out), "--force"]).exit_code == 0
    assert out.read_text().startswith("<!doctype html>")
    assert [p.name for p in tmp_path.iterdir()] == ["review.html"]  # no temporary file left beside it


def test_an_out_that_is_a_directory_is_refused(replayed: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(replayed), "--out", str(tmp_path), "--force"])
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"synthgen: error: --out {tmp_path} is a directory: give a file name, e.g. {tmp_path / REPORT_FILE}\n"
    )
