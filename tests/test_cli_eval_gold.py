"""`synthgen eval RUN_DIR --gold GOLD.json` on runs of the rule-based scripted model (testing/scripted.py)."""

import asyncio
import json
from pathlib import Path

import pytest
from inline_snapshot import snapshot
from typer.testing import CliRunner

from synthgen.errors import InputError
from synthgen.orchestrator.cli.app import app
from synthgen.orchestrator.llm.resolve import ResolvedModel
from synthgen.orchestrator.run.pipeline import RunOptions, run_pipeline
from synthgen.orchestrator.rundir.documents import load_documents
from synthgen.orchestrator.rundir.evaluate import gold_document, read_gold
from synthgen.testing.scripted import ScriptedModel
from synthgen.tools.parser import parse_document

runner = CliRunner()
GOLD_DIR = Path(__file__).resolve().parents[2] / "shared" / "gold"


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def scripted_run(document: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of the scripted model on a corpus document, six examples at most."""
    run_dir = tmp_path_factory.mktemp(document.stem) / "run"
    model = ResolvedModel(ScriptedModel().model(), "function:scripted")
    asyncio.run(run_pipeline(load_documents([document]), model, RunOptions(out=run_dir, max_examples=6)))
    return run_dir


@pytest.fixture(scope="module")
def tau2_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scripted_run(CORPUS / "tau2_retail_policy.md", tmp_path_factory)


@pytest.fixture(scope="module")
def github_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scripted_run(CORPUS / "github_acceptable_use.md", tmp_path_factory)


def test_recall_of_a_tau2_run(tau2_run: Path) -> None:
    result = runner.invoke(app, ["eval", str(tau2_run), "--gold", str(GOLD_DIR / "tau2_retail_policy.json")])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{tau2_run}: passes"
    assert lines[next(i for i, line in enumerate(lines) if line.startswith("recall against")) :] == snapshot(
        [
            f"recall against {GOLD_DIR / 'tau2_retail_policy.json'} (70 rules of tau2_retail_policy.md)",
            "  loose recall           62.9 %   44 of 70 rules overlapped by a policy's evidence",
            "  strict recall          54.3 %   38 of 70 rules stated by a policy that overlaps them",
            "  precision             100.0 %   23 of 23 policies state a gold rule",
            "  kind           rules  loose  strict",
            "  obligation        26     18      14",
            "  prohibition       14     12      12",
            "  permission         9      3       1",
            "  condition         20     11      11",
            "  definition         1      0       0",
        ]
    )


def test_recall_as_json_lists_every_rule_and_the_policies_that_found_it(github_run: Path) -> None:
    result = runner.invoke(
        app, ["eval", str(github_run), "--gold", str(GOLD_DIR / "github_acceptable_use.json"), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["passed"] is True
    recall = payload["recall"]
    found = {rule["id"]: rule for rule in recall.pop("found")}
    assert Path(recall.pop("document")).name == "github_acceptable_use.md"
    assert recall.pop("gold") == str(GOLD_DIR / "github_acceptable_use.json")
    assert recall == snapshot(
        {
            "rules": 69,
            "policies": 24,
            "loose_found": 31,
            "strict_found": 27,
            "policies_stating_a_rule": 21,
            "loose_recall": 0.4492753623188406,
            "strict_recall": 0.391304347826087,
            "precision": 0.875,
            "by_kind": [
                {"kind": "obligation", "rules": 12, "loose": 8, "strict": 6},
                {"kind": "prohibition", "rules": 38, "loose": 12, "strict": 10},
                {"kind": "permission", "rules": 10, "loose": 7, "strict": 7},
                {"kind": "condition", "rules": 3, "loose": 3, "strict": 3},
                {"kind": "definition", "rules": 6, "loose": 1, "strict": 1},
            ],
        }
    )
    assert len(found) == 69
    policies = {p["id"]: p for p in json.loads((github_run / "policies.json").read_text())}
    # g6 and g7 share line 16; the scripted model made a policy of g7's sentence only (g6's has no modal
    # verb): it overlaps g6 too, but does not state it, so g6 counts for loose recall and not for strict.
    assert found["g6"]["overlapping"] == found["g7"]["stating"] and found["g6"]["stating"] == []
    assert policies[found["g7"]["stating"][0]]["statement"].startswith(
        "These policies may be updated from time to time"
    )


def one_error_line(result: object) -> str:
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert result.stdout == ""  # type: ignore[attr-defined]
    lines = result.stderr.splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and "Traceback" not in result.stderr  # type: ignore[attr-defined]
    return lines[0]


def test_a_gold_list_of_another_document_is_refused_from_its_quoted_lines(tau2_run: Path) -> None:
    gold = GOLD_DIR / "github_acceptable_use.json"  # its lines all exist in tau2_retail_policy.md
    line = one_error_line(runner.invoke(app, ["eval", str(tau2_run), "--gold", str(gold)]))
    assert line == (
        f"synthgen: error: {gold} does not describe tau2_retail_policy.md: only 1 of its 69 rules share words with "
        "the lines they cite: give the gold list written for tau2_retail_policy.md (or for its current text)"
    )


def test_a_gold_list_naming_lines_outside_the_document_is_refused(tau2_run: Path) -> None:
    gold = GOLD_DIR / "refund_policy.json"  # 137 lines; tau2_retail_policy.md has 136
    line = one_error_line(runner.invoke(app, ["eval", str(tau2_run), "--gold", str(gold)]))
    assert line == (
        f"synthgen: error: {gold} cites lines 137-137 (rule g93) but tau2_retail_policy.md has 136 lines: "
        "give the gold list written for tau2_retail_policy.md"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[{", "is not a gold list (Invalid JSON: EOF while parsing an object at line 1 column 2)"),
        ('[{"id": "g1", "rule": "Be kind."}]', "is not a gold list (rule 1 line_start: Field required)"),
    ],
)
def test_a_gold_file_that_does_not_parse_is_refused(tau2_run: Path, tmp_path: Path, content: str, message: str) -> None:
    gold = tmp_path / "gold.json"
    gold.write_text(content)
    line = one_error_line(runner.invoke(app, ["eval", str(tau2_run), "--gold", str(gold)]))
    assert line.startswith(f"synthgen: error: {gold} {message}: give a JSON list of")


def test_a_missing_gold_file_is_refused(tau2_run: Path, tmp_path: Path) -> None:
    line = one_error_line(runner.invoke(app, ["eval", str(tau2_run), "--gold", str(tmp_path / "nope.json")]))
    assert (
        line
        == f"synthgen: error: gold list {tmp_path / 'nope.json'} does not exist: give a JSON rule list such as ../shared/gold/*.json"
    )


def test_in_a_run_of_several_documents_the_gold_list_finds_its_own() -> None:
    corpus = GOLD_DIR.parent / "corpus"
    tau2, github = (
        parse_document(name, (corpus / name).read_bytes())
        for name in ("tau2_retail_policy.md", "github_acceptable_use.md")
    )
    gold = read_gold(GOLD_DIR / "github_acceptable_use.json")
    assert gold_document(gold, [tau2, github]) is github
    with pytest.raises(InputError) as raised:
        gold_document(read_gold(GOLD_DIR / "refund_policy.json"), [tau2, github])
    assert str(raised.value) == (
        f"{GOLD_DIR / 'refund_policy.json'} fits none of the run's documents (tau2_retail_policy.md, "
        "github_acceptable_use.md): give the gold list of one of them"
    )
