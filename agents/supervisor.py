"""Supervisor agent: the assembled examples + the gate report -> one verdict per example.

The verdict advises; it never overrides the gates: the orchestrator re-runs them after every
revision, so a model cannot talk an invalid item into the dataset.
"""

from collections import Counter
from dataclasses import dataclass

from pydantic_ai import Agent, ModelRetry, RunContext

from synthgen.agents.prompts import load_prompt
from synthgen.agents.shared import retry_message
from synthgen.schemas.drafts import SupervisorReview
from synthgen.schemas.gates import GateReport
from synthgen.schemas.items import DatasetExample, Policy, TestCase

PROMPT = load_prompt("supervisor")
REVIEW_BATCH_SIZE = 8  # examples per review: enough to compare them, few enough for a small model's context


@dataclass
class SupervisorDeps:
    examples: list[DatasetExample]
    test_cases: list[TestCase]
    policies: list[Policy]
    gate_report: GateReport


supervisor_agent = Agent(
    None,  # the orchestrator passes model= and model_settings= to each run
    name="supervisor",
    output_type=SupervisorReview,
    deps_type=SupervisorDeps,
    instructions=PROMPT.text,
    retries=2,
    defer_model_check=True,
)


def supervisor_prompt(deps: SupervisorDeps) -> str:
    """The user message: every example with what it was meant to test, then the gate findings."""
    test_cases = {test_case.id: test_case for test_case in deps.test_cases}
    policies = {policy.id: policy for policy in deps.policies}
    blocks = [_example_block(example, test_cases.get(example.test_case_id), policies) for example in deps.examples]
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


def _example_block(example: DatasetExample, test_case: TestCase | None, policies: dict[str, Policy]) -> str:
    if test_case is None:
        test_part = f"Test case {example.test_case_id}: (not provided)"
    else:
        test_part = (
            f"Test case {test_case.id}\nScenario: {test_case.scenario}\n"
            f"Expected behaviour: {test_case.expected_behaviour}"
        )
    policy_ids = test_case.policy_ids if test_case is not None else example.metadata.policy_ids
    policy_lines = "\n".join(
        f"- {policy_id}: {policies[policy_id].statement}" if policy_id in policies else f"- {policy_id}: (not provided)"
        for policy_id in policy_ids
    )
    messages = "\n".join(f"[{message.role}] {message.content}" for message in example.messages)
    criteria = "\n".join(
        f"- ({criterion.policy_id}) {criterion.criterion}" for criterion in example.evaluation_criteria
    )
    return (
        f'<example id="{example.id}">\n{test_part}\nPolicies:\n{policy_lines}\n'
        f"Conversation:\n{messages}\nExpected output:\n{example.expected_output}\n"
        f"Evaluation criteria:\n{criteria}\n</example>"
    )


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
        if verdict.decision == "revise" and not verdict.instruction.strip():
            problems.append(f"{verdict.item_id}: 'revise' needs an instruction saying what the writer must change")
        if verdict.decision == "reject" and not verdict.reason_code:
            problems.append(f"{verdict.item_id}: 'reject' needs a snake_case reason_code, e.g. off_policy")

    if problems:
        raise ModelRetry(retry_message(problems))
    return review
