import json
from typing import Any

import pytest

from synthgen.schemas.items import DatasetExample, Policy, TestCase, UseCase
from synthgen.schemas.manifest import CallCounts, RunConfig, RunManifest, TokenUsage, VolatileInfo
from synthgen.tools.schema_validator import validate_json_file

DOC = "doc_0123456789ab"
EVIDENCE = {"line_start": 3, "line_end": 4, "quote": "Refunds go to the original payment method."}


def use_case(suffix: str = "0") -> dict[str, Any]:
    return UseCase(
        id=f"uc_012345678{suffix}",
        document_id=DOC,
        name="Refund",
        actor="customer",
        goal="get money back",
        description="",
        evidence=[EVIDENCE],
    ).model_dump(mode="json")


def policy() -> dict[str, Any]:
    return Policy(
        id="pol_0123456789",
        document_id=DOC,
        statement="Refund to the original method.",
        kind="obligation",
        strength="must",
        applies_to=["uc_0123456780"],
        evidence=[EVIDENCE],
    ).model_dump(mode="json")


def a_test_case() -> dict[str, Any]:
    return TestCase(
        id="tc_0123456789",
        document_id=DOC,
        use_case_id="uc_0123456780",
        policy_ids=["pol_0123456789"],
        axis_values={"payment": "gift card"},
        scenario="A gift card order.",
        deciding_rules=[{"policy_id": "pol_0123456789", "status": "triggered", "effect": "comply"}],
        expected_outcome="comply",
        expected_behaviour="Refund as credit.",
    ).model_dump(mode="json")


def example(suffix: str = "0") -> dict[str, Any]:
    return DatasetExample(
        id=f"ex_012345678{suffix}",
        test_case_id="tc_0123456789",
        messages=[{"role": "user", "content": "Refund my order please."}],
        expected_output="I will refund it to your gift card.",
        evaluation_criteria=[
            {"criterion": "Refunds to the card.", "policy_id": "pol_0123456789", "evidence": [EVIDENCE]}
        ],
        metadata={
            "document_id": DOC,
            "use_case_id": "uc_0123456780",
            "policy_ids": ["pol_0123456789"],
            "axis_values": {},
            "expected_outcome": "comply",
            "revisions": 0,
        },
    ).model_dump(mode="json")


def manifest() -> dict[str, Any]:
    return RunManifest(
        run_id="run_1",
        tool_version="0.1.0",
        inputs=[],
        config=RunConfig(
            model="test",
            seed=0,
            temperature=0.0,
            max_examples=None,
            concurrency=1,
            max_revisions=2,
            window_tokens=3000,
            strength=2,
        ),
        prompts=[],
        stages={},
        usage_by_model={},
        coverage=[],
        outputs=[],
        lineage=[],
        volatile=VolatileInfo(
            started_at="2025-01-01T00:00:00Z",
            finished_at="2025-01-01T00:00:01Z",
            stage_seconds={},
            calls=CallCounts(live=TokenUsage(), replayed=TokenUsage()),
        ),
    ).model_dump(mode="json")


def as_json(value: Any) -> bytes:
    return json.dumps(value, indent=2).encode()


def as_jsonl(*records: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("use_cases", as_json([use_case("0"), use_case("1")])),
        ("use_cases", b"[]"),
        ("policies", as_json([policy()])),
        ("test_cases", as_json([a_test_case()])),
        ("dataset", as_jsonl(example("0"), example("1"))),
        ("dataset", as_jsonl(example("0")).rstrip(b"\n")),
        ("dataset", b""),
        ("manifest", as_json(manifest())),
    ],
)
def test_valid_files_have_no_problems(kind: str, data: bytes) -> None:
    assert validate_json_file(kind, data) == []  # type: ignore[arg-type]


def test_a_bad_jsonl_line_is_named_by_its_line_number() -> None:
    bad = example("2")
    del bad["evaluation_criteria"][0]["policy_id"]
    data = as_jsonl(example("0"), example("1"), bad)
    assert validate_json_file("dataset", data) == [
        "dataset.jsonl line 3: evaluation_criteria.0.policy_id: Field required"
    ]


def test_unparseable_and_blank_jsonl_lines_are_reported_and_the_rest_still_checked() -> None:
    wrong_role = example("1")
    wrong_role["messages"][0]["role"] = "robot"
    data = as_jsonl(example("0")) + b"{not json\n\n" + as_jsonl(wrong_role)
    problems = validate_json_file("dataset", data)
    assert len(problems) == 3
    assert problems[0].startswith("dataset.jsonl line 2: Invalid JSON: ")
    assert problems[1] == "dataset.jsonl line 3: blank line; JSONL has one record on every line"
    assert problems[2] == "dataset.jsonl line 4: messages.0.role: Input should be 'system', 'user' or 'assistant'"


def test_an_array_item_is_named_by_index_and_id() -> None:
    empty_evidence = use_case("1") | {"evidence": []}
    problems = validate_json_file("use_cases", as_json([use_case("0"), empty_evidence, 7]))
    assert problems == [
        "use_cases.json[1] (uc_0123456781): evidence: List should have at least 1 item after validation, not 0",
        "use_cases.json[2]: Input should be an object",
    ]


def test_unknown_fields_and_bad_ids_are_problems() -> None:
    typo = policy() | {"statment": "typo"}
    bad_id = policy() | {"id": "pol_XYZ"}
    assert validate_json_file("policies", as_json([typo, bad_id])) == [
        "policies.json[0] (pol_0123456789): statment: Extra inputs are not permitted",
        "policies.json[1] (pol_XYZ): id: String should match pattern '^pol_[0-9a-f]{10,64}$'",
    ]


def test_evidence_with_lines_in_the_wrong_order_is_a_problem() -> None:
    record = use_case() | {"evidence": [EVIDENCE | {"line_start": 9}]}
    assert validate_json_file("use_cases", as_json([record])) == [
        "use_cases.json[0] (uc_0123456780): evidence.0: Value error, line_end 4 is before line_start 9"
    ]


def test_whole_file_problems_name_the_file() -> None:
    assert validate_json_file("policies", b'{"id": "pol_0123456789"}') == [
        "policies.json: Input should be a valid array"
    ]
    assert validate_json_file("use_cases", b"[1,").pop().startswith("use_cases.json: Invalid JSON: ")
    missing_seed = manifest()
    del missing_seed["config"]["seed"]
    assert validate_json_file("manifest", as_json(missing_seed)) == ["manifest.json: config.seed: Field required"]


def test_repeated_ids_are_problems() -> None:
    assert validate_json_file("test_cases", as_json([a_test_case(), a_test_case()])) == [
        "test_cases.json[1]: id: tc_0123456789 repeats the id of test_cases.json[0]"
    ]
    assert validate_json_file("dataset", as_jsonl(example("0"), example("1"), example("0"))) == [
        "dataset.jsonl line 3: id: ex_0123456780 repeats the id of dataset.jsonl line 1"
    ]


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown output kind 'trace'"):
        validate_json_file("trace", b"")  # type: ignore[arg-type]
