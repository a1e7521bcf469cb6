"""Example-writer agent: one test case + its policies -> one dataset example draft."""

from collections import Counter
from dataclasses import dataclass, field

from pydantic_ai import Agent, ModelRetry, RunContext

from synthgen.agents.extraction import anchor_evidence, excerpt, is_last_attempt, retry_message
from synthgen.agents.prompts import load_prompt
from synthgen.errors import LineRangeError
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import CriterionDraft, ExampleDraft
from synthgen.schemas.items import Evidence, Policy, TestCase, UseCase
from synthgen.tools.evidence import numbered_lines

PROMPT = load_prompt("example_writer")


@dataclass
class ExampleWriterDeps:
    document: SourceDocument
    test_case: TestCase
    use_case: UseCase
    policies: list[Policy]  # the test case's policies
    revision_instruction: str | None = None  # from the supervisor, when revising
    previous: ExampleDraft | None = None  # the draft the instruction applies to
    evidence_repairs: Counter[str] = field(default_factory=Counter)  # in the accepted answer; set by the validator
    trimmed_turns: int = 0  # trailing assistant turns dropped from the accepted answer; set by the validator
    dropped_criteria: int = 0  # ungrounded or misattributed criteria left out on the last attempt


example_writer_agent = Agent(
    None,  # the orchestrator passes model= and model_settings= to each run
    name="example_writer",
    output_type=ExampleDraft,
    deps_type=ExampleWriterDeps,
    instructions=PROMPT.text,
    retries=2,
    defer_model_check=True,
)


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


@example_writer_agent.tool
def lookup_lines(ctx: RunContext[ExampleWriterDeps], start: int, end: int) -> str:
    """Return lines `start` to `end` (1-based, inclusive) of the document, each as "NN | text"."""
    try:
        return numbered_lines(ctx.deps.document, start, end)
    except LineRangeError as error:
        raise ModelRetry(str(error)) from error


@example_writer_agent.output_validator
def validate_example(ctx: RunContext[ExampleWriterDeps], draft: ExampleDraft) -> ExampleDraft:
    """The conversation must end on the user; criteria must cite the test case's policies, grounded.

    On the last attempt, criteria that cite another policy or nothing grounded are left out
    (counted in `deps.dropped_criteria`) and a policy without a criterion is tolerated, as long as
    a well-formed conversation and one grounded criterion remain.
    """
    # Only the accepted answer counts, not earlier attempts.
    ctx.deps.evidence_repairs = Counter()
    ctx.deps.trimmed_turns = ctx.deps.dropped_criteria = 0
    test_case = ctx.deps.test_case
    problems: list[str] = []
    fatal = False  # a problem no salvage can fix
    # A conversation that already ends with the assistant's reply has answered itself; small models
    # often write it so. The reply belongs in expected_output, so those trailing turns are dropped.
    messages = list(draft.messages)
    while len(messages) > 1 and messages[-1].role == "assistant" and any(m.role == "user" for m in messages):
        messages.pop()
    trimmed = len(draft.messages) - len(messages)
    last = messages[-1]
    if last.role != "user":
        problems.append(
            f"messages: the last message has role {last.role!r}; the conversation must end with a 'user' turn "
            "(the assistant's reply belongs in expected_output)"
        )
        fatal = True
    misplaced_system = [n for n, message in enumerate(messages, 1) if message.role == "system" and n > 1]
    if misplaced_system:
        problems.append(
            f"messages: message(s) {', '.join(map(str, misplaced_system))} have role 'system'; "
            "only the first message may be a system message"
        )
        fatal = True

    allowed = test_case.policy_ids
    repairs: Counter[str] = Counter()
    criteria: list[CriterionDraft] = []
    for number, criterion in enumerate(draft.evaluation_criteria, 1):
        label = f'criterion {number} ("{excerpt(criterion.criterion)}")'
        anchored = anchor_evidence(ctx.deps.document, criterion.evidence, label)
        problems += anchored.problems
        repairs += anchored.repairs
        if criterion.policy_id not in allowed:
            problems.append(
                f"{label}: policy_id {criterion.policy_id!r} is not a policy of this test case; "
                f"use one of {', '.join(allowed)}"
            )
        elif anchored.evidence:
            criteria.append(criterion.model_copy(update={"evidence": anchored.evidence}))

    # Every policy the test case exercises needs a criterion, or the grader cannot tell whether
    # the reply applied it. The message names each missing policy so a small model can add it.
    statements = {policy.id: policy.statement for policy in ctx.deps.policies}
    cited = {criterion.policy_id for criterion in draft.evaluation_criteria}
    for policy_id in allowed:
        if policy_id not in cited:
            statement = statements.get(policy_id)
            about = f' ("{excerpt(statement)}")' if statement else ""
            problems.append(f"evaluation_criteria: no criterion checks {policy_id}{about}; add one")

    if problems and (fatal or not criteria or not is_last_attempt(ctx)):
        raise ModelRetry(retry_message(problems))
    ctx.deps.evidence_repairs = repairs
    ctx.deps.trimmed_turns = trimmed
    ctx.deps.dropped_criteria = len(draft.evaluation_criteria) - len(criteria)
    return draft.model_copy(update={"messages": messages, "evaluation_criteria": criteria})
