"""Stage 3: one example per test case, written by the example-writer agent."""

import logging
from collections import Counter
from dataclasses import dataclass

from synthgen.agents.example_writer import ExampleWriterDeps, example_writer_agent, example_writer_prompt
from synthgen.orchestrator.observe.tracing import annotate_current
from synthgen.orchestrator.run.items import Item, Rejected, Stage, StageContext, gather_all
from synthgen.orchestrator.run.runner import ModelRunner
from synthgen.schemas.drafts import CriterionDraft, ExampleDraft
from synthgen.schemas.items import DatasetExample, EvaluationCriterion, ExampleMetadata, Policy, TestCase
from synthgen.schemas.manifest import StageReport
from synthgen.schemas.stages import ItemIndex
from synthgen.tools.outcomes import criterion_text

STAGE = "write"
log = logging.getLogger("synthgen")


@dataclass(frozen=True)
class Revision:
    instruction: str
    previous: DatasetExample


def example_id(test_case: TestCase) -> str:
    # An example is about its test case, so it shares the test case's hash: a revision keeps its ID.
    return "ex_" + test_case.id.removeprefix("tc_")


def draft_of(example: DatasetExample) -> ExampleDraft:
    """What the writer wrote of an example: the rule-built criteria are the code's, not part of its draft."""
    return ExampleDraft(
        messages=example.messages,
        expected_output=example.expected_output,
        extra_criteria=[
            CriterionDraft(criterion=c.criterion, policy_id=c.policy_id, evidence=c.evidence)
            for c in example.evaluation_criteria
            if c.source == "writer"
        ],
    )


def rule_criteria(test_case: TestCase, policies: dict[str, Policy]) -> list[EvaluationCriterion]:
    """One criterion per deciding rule, from the rule and the outcome, citing the rule's own lines: never waived."""
    return [
        EvaluationCriterion(
            criterion=criterion_text(rule, policies[rule.policy_id], test_case.expected_outcome),
            policy_id=rule.policy_id,
            evidence=policies[rule.policy_id].evidence,
        )
        for rule in test_case.deciding_rules
    ]


def example_from_draft(
    draft: ExampleDraft, test_case: TestCase, policies: dict[str, Policy], revisions: int
) -> DatasetExample:
    added = [
        EvaluationCriterion(criterion=c.criterion, policy_id=c.policy_id, evidence=c.evidence, source="writer")
        for c in draft.extra_criteria
    ]
    return DatasetExample(
        id=example_id(test_case),
        test_case_id=test_case.id,
        messages=draft.messages,
        expected_output=draft.expected_output,
        evaluation_criteria=rule_criteria(test_case, policies) + added,
        metadata=ExampleMetadata(
            document_id=test_case.document_id,
            use_case_id=test_case.use_case_id,
            policy_ids=test_case.policy_ids,
            axis_values=test_case.axis_values,
            expected_outcome=test_case.expected_outcome,
            revisions=revisions,
        ),
    )


def writer_item_name(test_case: TestCase, revision: "Revision | None" = None) -> str:
    return f"{'revision' if revision else 'example'} for test case {test_case.id}"


async def write_example(
    test_case: TestCase, index: ItemIndex, runner: ModelRunner, stage: str = STAGE, revision: Revision | None = None
) -> tuple[DatasetExample, Counter[str]]:
    """Write (or, given a revision, rewrite) the example of one test case, and the repairs it took.

    ItemFailed if the model cannot.
    """
    deps = ExampleWriterDeps(
        document=index.documents[test_case.document_id],
        test_case=test_case,
        use_case=index.use_cases[test_case.use_case_id],
        policies=[index.policies[pid] for pid in test_case.policy_ids],
        revision_instruction=revision.instruction if revision else None,
        previous=draft_of(revision.previous) if revision else None,
    )
    draft = await runner.run(
        example_writer_agent, example_writer_prompt(deps), deps, stage, writer_item_name(test_case, revision)
    )
    revisions = revision.previous.metadata.revisions + 1 if revision else 0
    return example_from_draft(draft, test_case, index.policies, revisions), Counter(draft.repairs)


async def _write(test_case: TestCase, index: ItemIndex, stage: Stage) -> tuple[DatasetExample, Counter[str]] | Rejected:
    ex_id = example_id(test_case)
    item = Item(
        test_case.document_id, "write example", f"example {ex_id} for {test_case.id}", writer_item_name(test_case),
        {"test_case_id": test_case.id, "example_id": ex_id, "use_case_id": test_case.use_case_id,
         "policy_ids": test_case.policy_ids},
    )  # fmt: skip

    async def work() -> tuple[DatasetExample, Counter[str]]:
        written = await write_example(test_case, index, stage.runner)
        annotate_current(outcome="written")
        return written

    return await stage.run(item, work, advice="try a stronger model")


async def write(
    test_cases: list[TestCase], index: ItemIndex, context: StageContext
) -> tuple[list[DatasetExample], StageReport]:
    """An example for each test case, in their order; a test case the model fails on gets none."""
    log.info("write: %d example(s)", len(test_cases))
    documents = [tc.document_id for tc in test_cases]
    with context.stage(STAGE, len(test_cases)) as stage, stage.trace.stage(STAGE, documents):
        results = await gather_all(_write(tc, index, stage) for tc in test_cases)
    written = [result for result in results if not isinstance(result, Rejected)]
    rejected = Counter(result.reason_code for result in results if isinstance(result, Rejected))
    notes = sum((notes for _, notes in written), Counter())
    return [example for example, _ in written], StageReport.tally(len(test_cases), len(written), rejected, notes)
