"""Example-writer agent: one test case + its policies -> one dataset example draft."""

from dataclasses import dataclass

from pydantic_ai import ModelRetry, RunContext

from synthgen.agents.prompts import load_prompt
from synthgen.agents.shared import document_tools, pipeline_agent, retry_message
from synthgen.errors import AnswerRejected, LineRangeError
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import ExampleDraft
from synthgen.schemas.items import Evidence, Policy, TestCase, UseCase
from synthgen.schemas.outcomes import STATUS_WORDS, RuleStatus
from synthgen.tools.evidence import numbered_lines
from synthgen.tools.outcomes import OUTCOME_DESCRIPTIONS
from synthgen.tools.repairs import repair_example
from synthgen.tools.substance import SubstanceProblem, example_substance


@dataclass(frozen=True)
class ExampleWriterDeps:
    document: SourceDocument
    test_case: TestCase
    use_case: UseCase
    policies: list[Policy]  # the test case's deciding rules
    revision_instruction: str | None = None  # from the supervisor, when revising
    previous: ExampleDraft | None = None  # the draft the instruction applies to


# What the model is told: an answer that copies a run of it is caught by the copied_from_prompt gate.
INSTRUCTIONS = load_prompt("example_writer").text
example_writer_agent = pipeline_agent("example_writer", ExampleDraft, ExampleWriterDeps, [document_tools])


def example_writer_prompt(deps: ExampleWriterDeps) -> str:
    """The user message: the decided test case, its use case, its deciding rules with their lines, any revision."""
    test_case, use_case = deps.test_case, deps.use_case
    values = "\n".join(f"- {value}" for value in test_case.axis_values.values()) or "- (as the use case describes)"
    must = "\n".join(f"- {line}" for line in test_case.must) or "- (nothing beyond the outcome)"
    must_not = "\n".join(f"- {line}" for line in test_case.must_not) or "- (nothing beyond the outcome)"
    policies = {policy.id: policy for policy in deps.policies}
    rules = "\n\n".join(
        _rule_block(deps.document, policies[rule.policy_id], rule.status, rule.because)
        for rule in test_case.deciding_rules
        if rule.policy_id in policies
    )
    parts = [
        f"<use_case>\nName: {use_case.name}\nWho: {use_case.actor}\nGoal: {use_case.goal}\n</use_case>",
        (
            f"<test_case>\nThe user's situation:\n{values}\n"
            f"Expected outcome: {test_case.expected_outcome} ({OUTCOME_DESCRIPTIONS[test_case.expected_outcome]})\n"
            f"The reply must:\n{must}\nThe reply must not:\n{must_not}\n</test_case>"
        ),
        f"<deciding_rules>\n{rules}\n</deciding_rules>",
    ]
    if deps.previous is not None or deps.revision_instruction:
        previous = deps.previous.model_dump_json(indent=2) if deps.previous is not None else "(not available)"
        parts.append(f"<previous_draft>\n{previous}\n</previous_draft>")
        parts.append(
            f"<revision_instruction>\n{deps.revision_instruction or '(none given)'}\n</revision_instruction>\n"
            "Revise the previous draft: apply the instruction and keep the rest."
        )
    else:
        parts.append("Write the example.")
    return "\n\n".join(parts)


def _rule_block(document: SourceDocument, policy: Policy, status: RuleStatus, because: str) -> str:
    applies = STATUS_WORDS[status]
    why = f", since: {because}" if because else ""
    evidence = "\n".join(_evidence_lines(document, item) for item in policy.evidence)
    return f"{policy.id} [{policy.kind}; {applies}{why}]: {policy.statement}\nSource lines:\n{evidence}"


def _evidence_lines(document: SourceDocument, evidence: Evidence) -> str:
    """The cited lines as the model must cite them; the stored quote if the lines vanished."""
    try:
        return numbered_lines(document, evidence.line_start, evidence.line_end)
    except LineRangeError:
        return f"(lines {evidence.line_start}-{evidence.line_end}) {evidence.quote}"


def substance_problems(deps: ExampleWriterDeps, draft: ExampleDraft) -> list[SubstanceProblem]:
    """The substance gates (tools/substance.py) on one answer: copied, echoed, templated, missing, contradicted."""
    test_case = deps.test_case
    return example_substance(
        messages=draft.messages,
        expected_output=draft.expected_output,
        criteria=[criterion.criterion for criterion in draft.extra_criteria],
        scenario=test_case.scenario,
        expected_behaviour=test_case.expected_behaviour,
        axis_values=test_case.axis_values,
        outcome=test_case.expected_outcome,
        instructions=INSTRUCTIONS,
        rule_texts=[p.wording for p in deps.policies if p.id in test_case.policy_ids],
    )


@example_writer_agent.output_validator
def validate_example(ctx: RunContext[ExampleWriterDeps], draft: ExampleDraft) -> ExampleDraft:
    """A well-formed conversation that ends on the user, and a reply that passes the substance gates.

    A substance problem goes back to the model once, named; if the next answer still has one, the
    example is rejected with that problem's reason code (AnswerRejected), never accepted as it is.
    Added criteria that are not sound are dropped and counted (tools/repairs.repair_example).
    """
    repaired = repair_example(ctx.deps.document, ctx.deps.test_case, ctx.deps.policies, draft)
    if repaired.problems:
        raise ModelRetry(retry_message(repaired.problems))
    substance = substance_problems(ctx.deps, repaired.result)
    if substance and ctx.retry >= 1:
        raise AnswerRejected(substance[0].reason_code, substance[0].message)
    if substance:
        raise ModelRetry(retry_message([problem.message for problem in substance]))
    return repaired.result.model_copy(update={"repairs": repaired.counts})
