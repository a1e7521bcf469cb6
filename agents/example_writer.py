"""Example-writer agent: one test case + its policies -> one dataset example draft."""

from dataclasses import dataclass

from pydantic_ai import ModelRetry, RunContext

from synthgen.agents.shared import document_tools, is_last_attempt, pipeline_agent, retry_message
from synthgen.errors import LineRangeError
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import ExampleDraft
from synthgen.schemas.items import Evidence, Policy, TestCase, UseCase
from synthgen.tools.evidence import numbered_lines
from synthgen.tools.repairs import repair_example


@dataclass(frozen=True)
class ExampleWriterDeps:
    document: SourceDocument
    test_case: TestCase
    use_case: UseCase
    policies: list[Policy]  # the test case's policies
    revision_instruction: str | None = None  # from the supervisor, when revising
    previous: ExampleDraft | None = None  # the draft the instruction applies to


example_writer_agent = pipeline_agent("example_writer", ExampleDraft, ExampleWriterDeps, [document_tools])


def example_writer_prompt(deps: ExampleWriterDeps) -> str:
    """The user message: the test case, its use case, its policies with cited lines, and any revision."""
    test_case, use_case = deps.test_case, deps.use_case
    axis_values = "\n".join(f"- {axis}: {value}" for axis, value in test_case.axis_values.items()) or "- (none)"
    policies = "\n\n".join(_policy_block(deps.document, policy) for policy in deps.policies)
    parts = [
        (
            f"<test_case>\nScenario: {test_case.scenario}\nAxis values:\n{axis_values}\n"
            f"Expected behaviour: {test_case.expected_behaviour}\n</test_case>"
        ),
        (
            f"<use_case>\nName: {use_case.name}\nActor: {use_case.actor}\nGoal: {use_case.goal}\n"
            f"Description: {use_case.description}\n</use_case>"
        ),
        f"<policies>\n{policies}\n</policies>",
        f"Line numbers are the file's. Criteria may cite only these policy ids: {', '.join(test_case.policy_ids)}.",
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


def _policy_block(document: SourceDocument, policy: Policy) -> str:
    conditions = "; ".join(policy.conditions) or "always"
    evidence = "\n".join(_evidence_lines(document, item) for item in policy.evidence)
    return f"{policy.id} ({policy.kind}, when: {conditions}): {policy.statement}\nSource lines:\n{evidence}"


def _evidence_lines(document: SourceDocument, evidence: Evidence) -> str:
    """The cited lines as the model must cite them; the stored quote if the lines vanished."""
    try:
        return numbered_lines(document, evidence.line_start, evidence.line_end)
    except LineRangeError:
        return f"(lines {evidence.line_start}-{evidence.line_end}) {evidence.quote}"


@example_writer_agent.output_validator
def validate_example(ctx: RunContext[ExampleWriterDeps], draft: ExampleDraft) -> ExampleDraft:
    """The conversation must end on the user; criteria must cite the test case's policies, grounded.

    On the last attempt, criteria that cite another policy or nothing grounded are left out
    (counted in the answer's `repairs`) and a policy without a criterion is tolerated, as long as
    a well-formed conversation and one grounded criterion remain.
    """
    repaired = repair_example(ctx.deps.document, ctx.deps.test_case, ctx.deps.policies, draft)
    if repaired.problems and (repaired.fatal or not repaired.result.evaluation_criteria or not is_last_attempt(ctx)):
        raise ModelRetry(retry_message(repaired.problems))
    return repaired.result.model_copy(update={"repairs": repaired.counts})
