"""`synthgen eval` and `synthgen validate` on finished runs, good and tampered."""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from dirty_equals import IsList, IsStr
from inline_snapshot import snapshot
from typer.testing import CliRunner

from synthgen.orchestrator.cli.app import app
from synthgen.schemas.outcomes import OUTCOMES
from synthgen.testing.scripted import ScriptedModel

runner = CliRunner()


@pytest.fixture
def run_dir(corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]) -> Path:
    use_model(ScriptedModel())
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["agent", "run", str(corpus_dir / "github_acceptable_use.md"), "--out", str(out), "--max-examples", "5"]
    )
    assert result.exit_code == 0, result.stderr
    return out


def test_eval_reports_every_score(run_dir: Path) -> None:
    result = runner.invoke(app, ["eval", str(run_dir), "--json"])
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout) == snapshot(
        {
            "run_dir": IsStr(regex=r".*/run"),
            "passed": True,
            "rule_coverage": IsList(length=24),
            "problems": [],
            "examples": 5,
            "evidence_checked": 51,
            "evidence_invalid": 0,
            "lineage_problems": 0,
            "duplicates": 0,
            "policies": 24,
            "policies_covered": 7,
            "criteria": 13,
            "criteria_grounded": 13,
            "criteria_on_topic": 13,
            "copied": 0,
            "echoed": 0,
            "outcome_contradicted": 0,
            "conflicting_labels": 0,
            "evidence_validity": 1.0,
            "copy_rate": 0.0,
            "duplicate_rate": 0.0,
            "policy_coverage": 0.2916666666666667,
            "criteria_grounding": 1.0,
            "criteria_relevance": 1.0,
            "lineage_resolves": True,
        }
    )


def test_eval_fails_a_run_whose_quote_was_edited(run_dir: Path) -> None:
    policies = json.loads((run_dir / "policies.json").read_text())
    policies[0]["evidence"][0]["quote"] = "Users may upload anything they like."
    (run_dir / "policies.json").write_text(json.dumps(policies))
    result = runner.invoke(app, ["eval", str(run_dir)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == f"{run_dir}: FAILS"
    assert "evidence validity" in result.stdout

    validated = runner.invoke(app, ["validate", str(run_dir)])
    assert validated.exit_code == 1
    assert "policies.json: sha256 differs from the manifest (edited after the run?)" in validated.stderr


def test_validate_lists_schema_problems(run_dir: Path) -> None:
    lines = (run_dir / "dataset.jsonl").read_text().splitlines()
    broken = json.loads(lines[1])
    del broken["expected_output"]
    lines[1] = json.dumps(broken)
    (run_dir / "dataset.jsonl").write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["validate", str(run_dir)])
    assert result.exit_code == 1
    assert "dataset.jsonl line 2: expected_output: Field required" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"synthgen: error: {run_dir} has 1 problem(s), listed above"


def test_eval_of_an_unfinished_run(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{}")
    result = runner.invoke(app, ["eval", str(tmp_path)])
    assert result.exit_code == 1
    assert "use_cases.json: missing (the run did not finish?)" in result.stdout


def test_validate_checks_every_decision_against_the_document_and_the_policies(run_dir: Path) -> None:
    decisions = json.loads((run_dir / "decisions.json").read_text())
    assert {d["decided_by"] for d in decisions} == {"model"}
    assert any(not d["is_rule"] for d in decisions) and any(d["policy_ids"] for d in decisions)
    ruled = next(n for n, d in enumerate(decisions) if d["policy_ids"])
    decisions[0]["candidate"]["quote"] = "Users may upload anything they like."
    decisions[ruled]["policy_ids"] = ["pol_0000000000"]
    data = json.dumps(decisions).encode()
    (run_dir / "decisions.json").write_bytes(data)
    manifest = json.loads((run_dir / "manifest.json").read_text())  # as if the run had written them
    next(o for o in manifest["outputs"] if o["name"] == "decisions.json")["sha256"] = hashlib.sha256(data).hexdigest()
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["validate", str(run_dir)])
    assert result.exit_code == 1
    problems = [line.strip() for line in result.stderr.splitlines()[:-1]]
    assert len(problems) == 2, result.stderr
    assert problems[0].startswith(f"decisions.json[0] ({decisions[0]['candidate']['id']}): ")
    assert (
        problems[1]
        == f"decisions.json[{ruled}] ({decisions[ruled]['candidate']['id']}): policy pol_0000000000 is not in policies.json"
    )


def test_eval_prints_the_rule_by_outcome_matrix_of_the_manifest(run_dir: Path) -> None:
    result = runner.invoke(app, ["eval", str(run_dir)])
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    rules = json.loads((run_dir / "manifest.json").read_text())["rule_coverage"]
    covered = sum(1 for rule in rules if rule["examples"])
    start = lines.index(next(line for line in lines if line.startswith("rule coverage: ")))
    assert lines[start].startswith(f"rule coverage: {covered} of {len(rules)} rules decide a written example")
    assert lines[start + 1].split() == ["rule", "comply", "refuse", "ask", "escalate", "partial", "pair", "uncovered"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[start + 2 : start + 2 + len(rules)]}
    for rule in rules:
        cells = rows[rule["policy_id"]]
        marked = [outcome for outcome, cell in zip(OUTCOMES, cells) if cell == "x"]
        assert marked == [outcome for outcome in OUTCOMES if outcome in rule["outcomes"]]
        assert (cells[6:] == [rule["uncovered"]]) if rule["uncovered"] else len(cells) == 6
