"""The extract stage: candidates in batches, skipped ones asked again, use cases from the headings."""

import asyncio
import re

import pytest
from pydantic_ai import ModelSettings
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from synthgen.orchestrator.llm.retries import AdaptiveLimiter
from synthgen.orchestrator.run.items import StageContext
from synthgen.orchestrator.run.runner import ModelRunner
from synthgen.orchestrator.run.stages.extract import NoRulesError, extract
from synthgen.schemas.manifest import StageReport
from synthgen.schemas.stages import Extraction
from synthgen.testing.scripted import ScriptedModel, extraction_answer, use_case_answer
from synthgen.tools.evidence import check_evidence
from synthgen.tools.parser import parse_document

POLICY = b"""# Store policy

## General

Staff must be polite.

## Cancel pending order

An order can only be cancelled while it is pending.
The refund must go to the original payment method.

## Return delivered order

Returns must be requested within 14 days of delivery.
"""


def prompt_of(messages: list[ModelMessage]) -> str:
    return str(messages[0].parts[-1].content)  # type: ignore[union-attr]


def run_extract(
    respond: object, doc_bytes: bytes = POLICY, window_tokens: int = 1500
) -> tuple[Extraction, StageReport]:
    doc = parse_document("store.md", doc_bytes)
    model = FunctionModel(respond, model_name="test")  # type: ignore[arg-type]
    context = StageContext(ModelRunner(model, ModelSettings(temperature=0), AdaptiveLimiter(1)))
    extractions, report = asyncio.run(extract([doc], context, window_tokens))
    return extractions[0], report


def test_each_rule_is_attached_to_its_sections_use_case_or_explicitly_to_all() -> None:
    extraction, report = run_extract(ScriptedModel().respond)
    names = {uc.id: uc.name for uc in extraction.use_cases}
    assert sorted(names.values()) == ["Cancel pending order", "Return delivered order"]  # "General" is no situation
    attached = {p.statement: (p.applies_to_all, sorted(names[u] for u in p.applies_to)) for p in extraction.policies}
    assert attached == {
        "Staff must be polite.": (True, ["Cancel pending order", "Return delivered order"]),
        "An order can only be cancelled while it is pending.": (False, ["Cancel pending order"]),
        "The refund must go to the original payment method.": (False, ["Cancel pending order"]),
        "Returns must be requested within 14 days of delivery.": (False, ["Return delivered order"]),
    }
    doc = extraction.document
    evidence = [e for item in [*extraction.use_cases, *extraction.policies] for e in item.evidence]
    assert all(check_evidence(doc, e).ok for e in evidence)
    assert [(e.line_start, e.quote) for uc in extraction.use_cases for e in uc.evidence] == [
        (7, "Cancel pending order"),  # the heading line
        (12, "Return delivered order"),
    ]
    assert report.requested == report.accepted + report.rejected == 6  # 4 rules + 2 use cases, nothing left out
    assert [(d.candidate.id, d.is_rule, d.decided_by) for d in extraction.decisions] == [
        ("cand_5_1", True, "model"), ("cand_9_1", True, "model"), ("cand_10_1", True, "model"),
        ("cand_14_1", True, "model"),
    ]  # fmt: skip


NESTED = b"""# Order help

Staff must verify the customer before any change.

## Modify pending order

An order can only be modified while it is pending.

### Modify payment

The new payment method must differ from the old one.

## Return delivered order

Returns must be requested within 14 days of delivery.
"""


def test_a_rule_above_nested_use_cases_governs_each_of_them() -> None:
    extraction, _ = run_extract(ScriptedModel().respond, NESTED)
    names = {uc.id: uc.name for uc in extraction.use_cases}
    # the scripted model calls every heading a situation; the title names the document, not a situation
    assert sorted(names.values()) == ["Modify payment", "Modify pending order", "Return delivered order"]
    attached = {p.statement: (p.applies_to_all, sorted(names[u] for u in p.applies_to)) for p in extraction.policies}
    assert attached == {
        "Staff must verify the customer before any change.": (  # the preamble governs the sections it heads
            True, ["Modify payment", "Modify pending order", "Return delivered order"],
        ),
        "An order can only be modified while it is pending.": (False, ["Modify payment", "Modify pending order"]),
        "The new payment method must differ from the old one.": (False, ["Modify payment"]),
        "Returns must be requested within 14 days of delivery.": (False, ["Return delivered order"]),
    }  # fmt: skip


def test_batches_follow_the_token_budget_and_never_one_call_per_candidate() -> None:
    calls: list[int] = []
    scripted = ScriptedModel()

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls.append(len(re.findall(r"^\[\d+\] ", prompt_of(messages), re.MULTILINE)))
        return scripted.respond(messages, info)

    run_extract(respond, window_tokens=120)
    # Two candidates fit 120 tokens; the last call is the use-case agent's over the three rule-bearing headings.
    assert calls == [2, 2, 3]


def test_a_candidate_skipped_after_every_retry_is_asked_again_in_a_follow_up_batch() -> None:
    prompts: list[str] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        tool = info.output_tools[0]
        prompt = prompt_of(messages)
        prompts.append(prompt)
        if "decisions" not in tool.parameters_json_schema["properties"]:
            return ModelResponse(parts=[ToolCallPart(tool.name, use_case_answer(prompt))])
        answer = extraction_answer(prompt)
        if "[4]" in prompt:  # the first batch: candidate 3 is never answered there
            answer["decisions"] = [d for d in answer["decisions"] if d["n"] != 3]  # type: ignore[index,union-attr]
        return ModelResponse(parts=[ToolCallPart(tool.name, answer)])

    extraction, report = run_extract(respond)
    follow_up = [p for p in prompts if "[4]" not in p and "decisions" in p and "rules)" not in p]
    assert len(follow_up) == 1 and "[1] The refund must go to the original payment method." in follow_up[0]
    assert report.notes["candidate_asked_again"] == 1
    assert "The refund must go to the original payment method." in {p.statement for p in extraction.policies}


def test_a_candidate_never_answered_is_decided_by_its_normative_cue_and_counted() -> None:
    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        tool = info.output_tools[0]
        prompt = prompt_of(messages)
        if "decisions" not in tool.parameters_json_schema["properties"]:
            return ModelResponse(parts=[ToolCallPart(tool.name, use_case_answer(prompt))])
        return ModelResponse(parts=[ToolCallPart(tool.name, {"decisions": []})])

    extraction, report = run_extract(respond)
    assert {d.decided_by for d in extraction.decisions} == {"normative_cue"}
    assert len(extraction.policies) == 4 and report.notes["rule_by_normative_cue"] == 4
    assert report.notes["candidate_asked_again"] == 4


def test_a_document_without_rules_is_refused_in_one_line() -> None:
    poem = b"# Autumn\n\nThe leaves fall slowly.\nThe river hums along.\n"
    with pytest.raises(NoRulesError, match=r"^no rules found in store\.md: none of its 2 statements is a rule"):
        run_extract(ScriptedModel().respond, poem)


def test_a_document_without_any_statement_is_refused_before_any_call() -> None:
    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise AssertionError("no model call expected")

    with pytest.raises(NoRulesError, match=r"^no rules found in store\.md: it has no statement at all"):
        run_extract(respond, b"# Title\n\n## Only headings\n")
