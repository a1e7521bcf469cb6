"""Stage 3: one example per test case, written by the example-writer agent."""

from dataclasses import dataclass

from synthgen.agents.example_writer import ExampleWriterDeps, example_writer_agent, example_writer_prompt
from synthgen.agents.extraction import EVIDENCE_REPAIRS
from synthgen.orchestrator.run.runner import ModelRunner
from synthgen.schemas.drafts import CriterionDraft, ExampleDraft
from synthgen.schemas.items import DatasetExample, EvaluationCriterion, ExampleMetadata, TestCase
from synthgen.tools.gates import ItemIndex


@dataclass(frozen=True)
class Revision:
    instruction: str
    previous: DatasetExample


def example_id(test_case: TestCase) -> str:
    # An example is about its test case, so it shares the test case's hash: a revision keeps its ID.
    return "ex_" + test_case.id.removeprefix("tc_")


def draft_of(example: DatasetExample) -> ExampleDraft:
    return ExampleDraft(
        messages=example.messages,
        expected_output=example.expected_output,
        evaluation_criteria=[
            CriterionDraft(criterion=c.criterion, policy_id=c.policy_id, evidence=c.evidence)
            for c in example.evaluation_criteria
        ],
    )


def example_from_draft(draft: ExampleDraft, test_case: TestCase, revisions: int) -> DatasetExample:
    return DatasetExample(
        id=example_id(test_case),
        test_case_id=test_case.id,
        messages=draft.messages,
        expected_output=draft.expected_output,
        evaluation_criteria=[
            EvaluationCriterion(criterion=c.criterion, policy_id=c.policy_id, evidence=c.evidence)
            for c in draft.evaluation_criteria
        ],
        metadata=ExampleMetadata(
            document_id=test_case.document_id,
            use_case_id=test_case.use_case_id,
            policy_ids=test_case.policy_ids,
            axis_values=test_case.axis_values,
            revisions=revisions,
        ),
    )


async def write_example(
    test_case: TestCase,
    index: ItemIndex,
    runner: ModelRunner,
    stage: str = "write",
    revision: Revision | None = None,
) -> DatasetExample:
    """Write (or, given a revision, rewrite) the example of one test case; ItemFailed if the model cannot."""
    deps = ExampleWriterDeps(
        document=index.documents[test_case.document_id],
        test_case=test_case,
        use_case=index.use_cases[test_case.use_case_id],
        policies=[index.policies[pid] for pid in test_case.policy_ids],
        revision_instruction=revision.instruction if revision else None,
        previous=draft_of(revision.previous) if revision else None,
    )
    action = "revision" if revision else "example"
    draft = await runner.run(
        example_writer_agent, example_writer_prompt(deps), deps, stage, f"{action} for test case {test_case.id}"
    )
    for repair in EVIDENCE_REPAIRS:
        runner.stages[stage].note(repair, deps.evidence_repairs[repair])
    runner.stages[stage].note("assistant_turns_trimmed", deps.trimmed_turns)
    runner.stages[stage].note("ungrounded_criteria_dropped", deps.dropped_criteria)
    revisions = revision.previous.metadata.revisions + 1 if revision else 0
    return example_from_draft(draft, test_case, revisions)
