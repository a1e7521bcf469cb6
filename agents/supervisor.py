"""Supervisor agent: the assembled examples + the gate report -> one verdict per example.

The verdict advises; it never overrides the gates: the orchestrator re-runs them after every
revision, so a model cannot talk an invalid item into the dataset.
"""

from collections import Counter
from dataclasses import dataclass, field

from pydantic_ai import ModelRetry, RunContext

from synthgen.agents.shared import pipeline_agent, retry_message
from synthgen.errors import LineRangeError
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import REVIEW_CHECKS, SupervisorReview
from synthgen.schemas.gates import GateReport
from synthgen.schemas.items import DatasetExample, Policy, TestCase
from synthgen.schemas.outcomes import STATUS_WORDS, DecidingRule
from synthgen.tools.evidence import numbered_lines

REVIEW_BATCH_SIZE = 8  # examples per review: enough to compare them, few enough for a small model's context


@dataclass
class SupervisorDeps:
    examples: list[DatasetExample]
    test_cases: list[TestCase]
    policies: list[Policy]
    gate_report: GateReport
    documents: dict[str, SourceDocument] = field(default_factory=dict)  # by id: the deciding rules' source lines


supervisor_agent = pipeline_agent("supervisor", SupervisorReview, SupervisorDeps)


def supervisor_prompt(deps: SupervisorDeps) -> str:
    """The user message: every example with what it was meant to test, then the gate findings."""
    test_cases = {test_case.id: test_case for test_case in deps.test_cases}
    policies = {policy.id: policy for policy in deps.policies}
    blocks = [
        _example_block(
            example, test_cases.get(example.test_case_id), policies, deps.documents.get(example.metadata.document_id)
        )
        for example in deps.examples
    ]
    findings = (
        "\n".join(
            f"- {finding.item_id} [{finding.gate}/{finding.reason_code}] {finding.message}"
            for finding in deps.gate_report.findings
        )
        or "- none: every example passed the deterministic gates"
    )
    ids = ", ".join(example.id for example in deps.examples)
    return (
        "\n\n".join(blocks)
        + f"\n\n<gate_findings>\n{findings}\n</gate_findings>\n\n"
        + f"Give exactly one verdict for each of these ids: {ids}."
    )


def _example_block(
    example: DatasetExample, test_case: TestCase | None, policies: dict[str, Policy], document: SourceDocument | None
) -> str:
    if test_case is None:
        return f'<example id="{example.id}">\nTest case {example.test_case_id}: (not provided)\n</example>'
    values = "\n".join(f"- {value}" for value in test_case.axis_values.values()) or "- (as the use case describes)"
    must = "\n".join(f"- {line}" for line in test_case.must) or "- (nothing beyond the outcome)"
    must_not = "\n".join(f"- {line}" for line in test_case.must_not) or "- (nothing beyond the outcome)"
    rules = "\n".join(_rule_lines(rule, policies.get(rule.policy_id), document) for rule in test_case.deciding_rules)
    messages = "\n".join(f"[{message.role}] {message.content}" for message in example.messages)
    criteria = "\n".join(f"- ({c.policy_id}) {c.criterion}" for c in example.evaluation_criteria)
    return (
        f'<example id="{example.id}">\nSituation:\n{values}\n'
        f"Expected outcome: {test_case.expected_outcome}\nThe reply must:\n{must}\nThe reply must not:\n{must_not}\n"
        f"Deciding rules:\n{rules}\n"
        f"Conversation:\n{messages}\nExpected output:\n{example.expected_output}\n"
        f"Evaluation criteria:\n{criteria}\n</example>"
    )


def _rule_lines(rule: DecidingRule, policy: Policy | None, document: SourceDocument | None) -> str:
    if policy is None:
        return f"- {rule.policy_id}: (not provided)"
    applies = STATUS_WORDS[rule.status]
    head = f"- {policy.id} ({policy.kind}, {applies}): {policy.statement}"
    if document is None:
        return head
    lines = []
    for evidence in policy.evidence:
        try:
            lines.append(numbered_lines(document, evidence.line_start, evidence.line_end))
        except LineRangeError:
            lines.append(evidence.quote)
    return head + "\n" + "\n".join(lines)


def accept_only_when_checks_hold(review: SupervisorReview) -> SupervisorReview:
    """An accept whose own checks failed is a revise, with the failed checks' reasons as the instruction."""
    verdicts = []
    for verdict in review.verdicts:
        failed = [c for c in verdict.checks if not c.ok]
        if verdict.decision == "accept" and failed:
            instruction = "; ".join(f"{c.check}: {c.why}" for c in failed)
            verdict = verdict.model_copy(update={"decision": "revise", "instruction": instruction[:600]})
        verdicts.append(verdict)
    return review.model_copy(update={"verdicts": verdicts})


@supervisor_agent.output_validator
def validate_review(ctx: RunContext[SupervisorDeps], review: SupervisorReview) -> SupervisorReview:
    """Exactly one verdict per example; revise needs an instruction, reject a reason code."""
    expected = [example.id for example in ctx.deps.examples]
    counts = Counter(verdict.item_id for verdict in review.verdicts)
    problems: list[str] = []

    unknown = [item_id for item_id in counts if item_id not in set(expected)]
    if unknown:
        problems.append(f"verdicts for unknown ids {', '.join(unknown)}; review only {', '.join(expected)}")
    missing = [item_id for item_id in expected if item_id not in counts]
    if missing:
        problems.append(f"no verdict for {', '.join(missing)}; give one for each")
    repeated = [item_id for item_id, count in counts.items() if count > 1]
    if repeated:
        problems.append(f"more than one verdict for {', '.join(repeated)}; give exactly one per id")

    for verdict in review.verdicts:
        checks = [c.check for c in verdict.checks]
        if checks != list(REVIEW_CHECKS):
            problems.append(f"{verdict.item_id}: give the checks {', '.join(REVIEW_CHECKS)}, once each, in that order")
        if verdict.decision == "revise" and not verdict.instruction.strip():
            problems.append(f"{verdict.item_id}: 'revise' needs an instruction saying what the writer must change")
        if verdict.decision == "reject" and not verdict.reason_code:
            problems.append(f"{verdict.item_id}: 'reject' needs a snake_case reason_code, e.g. off_policy")

    if problems:
        raise ModelRetry(retry_message(problems))
    return accept_only_when_checks_hold(review)
