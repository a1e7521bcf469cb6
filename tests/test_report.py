"""`synthgen report`: one self-contained HTML page of a run, every text escaped, bad input refused in one line.

What the page does in a browser (counts, highlighting, filters, no script from the document) is
tested in a real one by tests/test_report_browser.py.
"""

import html
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from report_runs import WRITE_REJECTS, hostile_run, reject_first, replayed_cassette_run, scripted_run
from typer.testing import CliRunner

from synthgen.orchestrator.cli.app import app
from synthgen.orchestrator.report.build import build_report
from synthgen.schemas.layout import DATASET_FILE, MANIFEST_FILE, REPORT_FILE, TRACE_FILE
from synthgen.schemas.outcomes import OUTCOMES
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
        assert str(escape(example["expected_output"])) in page
        for criterion in example["evaluation_criteria"]:
            for evidence in criterion["evidence"]:
                assert f'data-from="{evidence["line_start"]}" data-to="{evidence["line_end"]}"' in page


def test_rejected_examples_are_listed_with_reason_and_last_answer(scripted: Path) -> None:
    report = build_report(scripted)  # its supervisor rejects the first example it reviews
    rejected = [card for card in report.examples if card.status == "rejected"]
    supervise = json.loads((scripted / MANIFEST_FILE).read_text())["stages"]["supervise"]
    assert len(rejected) == supervise["rejected"] == 1
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


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test case written: contrast pairs, a rejected example, candidates left out."""
    return scripted_run(tmp_path_factory.mktemp("scripted") / "run")


@pytest.fixture(scope="module")
def over_budget(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """--max-examples 2 of which one is rejected: rules uncovered by the budget and by the rejection."""
    return scripted_run(tmp_path_factory.mktemp("over-budget") / "run", max_examples=2)


def read(run: Path, name: str) -> Any:
    if name == DATASET_FILE:
        return [json.loads(line) for line in (run / name).read_text().splitlines()]
    return json.loads((run / name).read_text())


def element(page: str, tag: str, attributes: str) -> str:
    """The inner HTML of the first `tag` element whose opening tag holds `attributes` (not nested in itself)."""
    found = re.search(rf"<{tag}\b[^>]*{re.escape(attributes)}[^>]*>(.*?)</{tag}>", page, re.DOTALL)
    assert found is not None, f"no <{tag} {attributes}>"
    return found.group(1)


@pytest.mark.parametrize("run_name", ["scripted", "over_budget"])
def test_the_rule_matrix_counts_written_examples_by_outcome(run_name: str, request: pytest.FixtureRequest) -> None:
    run: Path = request.getfixturevalue(run_name)
    page = report_of(run, "--out", str(run / "matrix.html"))
    manifest = read(run, MANIFEST_FILE)
    test_cases = {tc["id"]: tc for tc in read(run, "test_cases.json")}
    recorded = {rule["policy_id"]: rule for rule in manifest["rule_coverage"]}
    pairs = Counter(pair["policy_id"] for pair in manifest["contrast_pairs"])
    expected: dict[str, Counter[str]] = {p["id"]: Counter() for p in read(run, "policies.json")}
    for example in read(run, DATASET_FILE):
        for policy_id in test_cases[example["test_case_id"]]["policy_ids"]:
            expected[policy_id][example["metadata"]["expected_outcome"]] += 1
    rows = re.findall(r'<tr id="(pol_\w+)" data-rule="\1"[^>]*>(.*?)</tr>', page, re.DOTALL)
    assert [policy_id for policy_id, _ in rows] == list(expected)  # one row per rule, in policy order
    for policy_id, row in rows:
        cells = re.findall(r'<td class="num" data-outcome="(\w+)">(?:<a [^>]*>|<span class="muted">)(\d+)<', row)
        assert [outcome for outcome, _ in cells] == list(OUTCOMES)
        counts = {outcome: int(n) for outcome, n in cells}
        assert counts == {outcome: expected[policy_id][outcome] for outcome in OUTCOMES}
        rule = recorded[policy_id]  # the manifest agrees with the dataset, and the page shows its reason
        assert sum(counts.values()) == len(rule["examples"])
        assert {outcome for outcome, n in counts.items() if n} == set(rule["outcomes"])
        assert f'data-pair="{pairs[policy_id]}"' in row and rule["contrast_pair"] == bool(pairs[policy_id])
        if rule["uncovered"]:
            assert f'<span class="tag uncovered">uncovered: {rule["uncovered"]}</span>' in row
            assert f'data-uncovered="{rule["uncovered"]}"' in row
        else:
            assert "uncovered" not in row
        assert 'role="note"' not in row  # no disagreement between the manifest and the files
        for evidence in next(p for p in read(run, "policies.json") if p["id"] == policy_id)["evidence"]:
            assert f'data-from="{evidence["line_start"]}" data-to="{evidence["line_end"]}"' in row
    for coverage in manifest["coverage"]:
        shown = element(page, "li", f'data-coverage="{coverage["document_id"]}"')
        for key in ("test_cases_designed", "examples_written", "rules", "rules_covered", "contrast_pairs_written"):
            assert f'<span data-count="{key}">{coverage[key]}</span>' in shown, key
    covered = sum(1 for policy_id in expected if expected[policy_id])
    assert covered == sum(c["rules_covered"] for c in manifest["coverage"])
    assert f'<span id="count-covered">{covered}</span> of {len(expected)} rules' in page


def test_the_uncovered_reasons_are_the_manifests(over_budget: Path) -> None:
    reasons = {row.uncovered for row in build_report(over_budget).rules if not row.written}
    assert reasons == {rule["uncovered"] for rule in read(over_budget, MANIFEST_FILE)["rule_coverage"]} - {None}
    assert reasons == {"budget", "rejected"}  # the run shows both, so the test is about something


def test_the_matrix_says_where_the_manifest_disagrees_with_the_files(scripted: Path, tmp_path: Path) -> None:
    run = tmp_path / "copy"
    run.mkdir()
    for file in scripted.iterdir():
        (run / file.name).write_bytes(file.read_bytes())
    manifest = read(run, MANIFEST_FILE)
    rule = next(rule for rule in manifest["rule_coverage"] if rule["outcomes"])
    rule["outcomes"] = ["escalate"]  # the manifest is not hashed, and validate does not check this
    (run / MANIFEST_FILE).write_text(json.dumps(manifest))
    rows = {row.policy.id: row for row in build_report(run).rules}
    assert rows[rule["policy_id"]].disagreement.startswith("manifest.json's rule_coverage says outcomes escalate")
    assert sum(1 for row in rows.values() if row.disagreement) == 1


def test_contrast_pairs_show_both_examples_and_their_outcomes(scripted: Path) -> None:
    page = report_of(scripted, "--out", str(scripted / "pairs.html"))
    manifest = read(scripted, MANIFEST_FILE)
    examples = {example["test_case_id"]: example for example in read(scripted, DATASET_FILE)}
    assert len(manifest["contrast_pairs"]) == sum(c["contrast_pairs_written"] for c in manifest["coverage"]) == 2
    assert page.count('<tr id="pair-') == len(manifest["contrast_pairs"])
    for pair in manifest["contrast_pairs"]:
        row = element(page, "tr", f'id="pair-{pair["policy_id"]}-{pair["axis"]}"')
        assert f'<a href="#{pair["policy_id"]}">' in row
        shown = re.findall(r'<a href="#(ex_\w+)"><code>\1</code></a>\s*<span class="outcome (\w+)">', row)
        written = [examples[tc] for tc in pair["test_case_ids"]]
        assert shown == [(e["id"], e["metadata"]["expected_outcome"]) for e in written]
        assert shown[0][1] != shown[1][1]  # a contrast pair's outcomes differ
        assert all(f'id="{example_id}"' in page for example_id, _ in shown)  # the links lead to the examples


def test_every_example_shows_its_outcome_deciding_rules_and_criteria_sources(scripted: Path) -> None:
    page = report_of(scripted, "--out", str(scripted / "examples.html"))
    test_cases = {tc["id"]: tc for tc in read(scripted, "test_cases.json")}
    examples = read(scripted, DATASET_FILE)
    assert {e["metadata"]["expected_outcome"] for e in examples} >= {"comply", "refuse"}
    for example in examples:
        test_case = test_cases[example["test_case_id"]]
        opening = re.search(rf'<article class="example accepted" id="{example["id"]}"[^>]*>', page)
        assert opening is not None and f'data-outcome="{example["metadata"]["expected_outcome"]}"' in opening.group(0)
        card = element(page, "article", f'id="{example["id"]}"')
        deciding = re.findall(r'<li data-rule="(pol_\w+)" data-status="(\w+)">', card)
        assert deciding == [(rule["policy_id"], rule["status"]) for rule in test_case["deciding_rules"]]
        for rule in test_case["deciding_rules"]:
            assert (f"because <b>{escape(rule['because'])}</b>" if rule["because"] else "(unconditional)") in card
        for line in test_case["must"] + test_case["must_not"]:
            assert f"<li>{escape(line)}</li>" in card  # escaped as jinja escapes
        sources = re.findall(r'<li data-source="(\w+)"><span class="tag source \1"[^>]*>([\w-]+)</span>', card)
        assert sources == [
            (c["source"], "rule-built" if c["source"] == "rule" else "writer-added")
            for c in example["evaluation_criteria"]
        ]
    # The scripted writer adds one criterion of its own to the ones built from the rules.
    assert {c["source"] for e in examples for c in e["evaluation_criteria"]} == {"rule", "writer"}
    rejected = build_report(scripted).examples[len(examples) :]
    assert len(rejected) == read(scripted, MANIFEST_FILE)["stages"]["supervise"]["rejected"] == 1
    assert [card.outcome for card in rejected] == [card.test_case.expected_outcome for card in rejected]
    for card in rejected:
        assert f'data-status="rejected" data-outcome="{card.outcome}"' in page


def test_left_out_lists_every_candidate_that_is_no_rule(scripted: Path) -> None:
    page = report_of(scripted, "--out", str(scripted / "left-out.html"))
    decisions = read(scripted, "decisions.json")
    extract = read(scripted, MANIFEST_FILE)["stages"]["extract"]
    left_out = [d for d in decisions if not d["is_rule"]]
    by_reason = Counter(d["reason"] for d in left_out)
    assert by_reason == {"description": 1, "not_decided": 1}  # the fixture leaves out one of each
    assert {f"not_a_rule_{reason}": n for reason, n in by_reason.items()} == extract["reasons"]
    assert f'<span id="count-left-out">{len(left_out)}</span>' in page
    for reason, n in by_reason.items():
        group = element(page, "details", f'data-reason="{reason}"')
        assert f'<span data-count="{reason}">{n}</span>' in group
        listed = [d for d in left_out if d["reason"] == reason]
        assert re.findall(r'data-candidate="(cand_\w+)"', group) == [d["candidate"]["id"] for d in listed]
        for d in listed:
            candidate = d["candidate"]
            assert f'data-from="{candidate["line_start"]}" data-to="{candidate["line_end"]}"' in group
            assert html.escape(candidate["text"], quote=False) in group
    flagged = re.findall(r'<li data-decided-by="(\w+)">', page)
    assert flagged == [d["decided_by"] for d in decisions if d["decided_by"] != "model"]
    assert set(flagged) == {"normative_cue", "no_answer"}
    cue = next(d for d in decisions if d["decided_by"] == "normative_cue")
    assert cue["is_rule"] and all(f'<a href="#{pid}"><code>{pid}</code></a>' in page for pid in cue["policy_ids"])


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
