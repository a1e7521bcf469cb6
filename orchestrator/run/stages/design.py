"""Stage 2: name the variation axes once per document, then let a covering array pick test cases.

The use case is itself an axis, so every use case meets every value of every other axis.
"""

import logging
from dataclasses import dataclass

from synthgen.agents.designer import DesignerDeps, designer_agent, designer_prompt
from synthgen.orchestrator.observe.tracing import annotate_current
from synthgen.orchestrator.run.items import Item, Rejected, Stage, StageContext, gather_all
from synthgen.schemas.items import USE_CASE_AXIS, Axis, Policy, TestCase, UseCase
from synthgen.schemas.manifest import AxisCoverage, CoverageReport, StageReport
from synthgen.schemas.stages import Design, Extraction
from synthgen.tools.combinatorics import Row, coverage_stats, covering_array
from synthgen.tools.ids import allocate_ids

log = logging.getLogger("synthgen")

STAGE = "design"
# Enough policies for a focused example; more would turn every example into a checklist.
MAX_POLICIES_PER_TEST_CASE = 3


def policies_for_row(row_index: int, use_case: UseCase, axes: list[Axis], policies: list[Policy]) -> list[str]:
    """The policies a row exercises: those the axes name that govern its use case, rotated per row
    so consecutive rows of one use case spread over its policies."""
    governing = [p.id for p in policies if use_case.id in p.applies_to]
    named = {pid for axis in axes for pid in axis.policy_ids}
    pool = [pid for pid in governing if pid in named] or governing or sorted(named)
    count = min(MAX_POLICIES_PER_TEST_CASE, len(pool))
    start = (row_index * count) % len(pool)
    return sorted({pool[(start + k) % len(pool)] for k in range(count)})


@dataclass(frozen=True)
class PlannedTestCase:
    """A covering-array row turned into a test case, before it has an ID."""

    key: str  # what makes two rows the same test case; its hash becomes the ID
    use_case_id: str
    policy_ids: list[str]
    axis_values: dict[str, str]
    scenario: str
    expected_behaviour: str


def plan_test_case(
    index: int, use_case: UseCase, axes: list[Axis], row: Row, extraction: Extraction
) -> PlannedTestCase:
    values = {axis.name: axis.values[value] for axis, value in zip(axes, row)}
    policy_ids = policies_for_row(index, use_case, axes, extraction.policies)
    statements = {p.id: p.statement for p in extraction.policies}
    scenario = f"{use_case.actor} wants to {use_case.goal.rstrip('.')}. " + "; ".join(
        f"{name.replace('_', ' ')}: {value}" for name, value in values.items()
    )
    return PlannedTestCase(
        key="|".join([use_case.id, ",".join(policy_ids), *(f"{k}={v}" for k, v in sorted(values.items()))]),
        use_case_id=use_case.id,
        policy_ids=policy_ids,
        axis_values=values,
        scenario=scenario,
        expected_behaviour=" ".join(statements[pid].rstrip(".") + "." for pid in policy_ids),
    )


def build_test_cases(
    extraction: Extraction, axes: list[Axis], strength: int, seed: int
) -> tuple[list[TestCase], CoverageReport]:
    use_cases = extraction.use_cases
    dimensions = [[uc.id for uc in use_cases], *[axis.values for axis in axes]]
    rows = covering_array(dimensions, strength=strength, seed=seed)
    planned = [plan_test_case(index, use_cases[row[0]], axes, row[1:], extraction) for index, row in enumerate(rows)]
    ids = allocate_ids("tc_", [p.key for p in planned])
    test_cases: dict[str, TestCase] = {}
    for tc_id, plan in zip(ids, planned):
        test_cases.setdefault(
            tc_id,
            TestCase(
                id=tc_id,
                document_id=extraction.document.id,
                use_case_id=plan.use_case_id,
                policy_ids=plan.policy_ids,
                axis_values=plan.axis_values,
                scenario=plan.scenario,
                expected_behaviour=plan.expected_behaviour,
            ),
        )
    stats = coverage_stats(dimensions, rows, strength)
    coverage = CoverageReport(
        document_id=extraction.document.id,
        strength=strength,
        axes=[
            AxisCoverage(name=USE_CASE_AXIS, values=[uc.id for uc in use_cases]),
            *[AxisCoverage(name=a.name, values=a.values) for a in axes],
        ],
        rows=stats.rows,
        full_product=stats.full_product,
        interactions_total=stats.interactions_total,
        interactions_covered=stats.interactions_covered,
    )
    return list(test_cases.values()), coverage


async def design_document(extraction: Extraction, stage: Stage, strength: int, seed: int) -> tuple[Design, StageReport]:
    """The document's axes and test cases; none if the model fails on its design."""
    doc = extraction.document
    deps = DesignerDeps(document=doc, use_cases=extraction.use_cases, policies=extraction.policies)
    item = Item(
        doc.id, "test design", "test design: name the variation axes", f"test design for {doc.path}",
        {"use_case_ids": [uc.id for uc in extraction.use_cases], "policy_ids": [p.id for p in extraction.policies]},
    )  # fmt: skip

    async def work() -> tuple[list[Axis], dict[str, int]]:
        draft = await stage.runner.run(designer_agent, designer_prompt(deps), deps, STAGE, item.name)
        repairs = draft.repairs.get("axis_problem_repaired", 0)
        annotate_current(axes=[a.name for a in draft.axes], repairs=repairs)
        axes = [Axis(name=a.name, values=a.values, rationale=a.rationale, policy_ids=a.policy_ids) for a in draft.axes]
        return axes, draft.repairs

    with stage.trace.stage(STAGE, [doc.id]):
        designed = await stage.run(item, work, advice="try a stronger model")
        if isinstance(designed, Rejected):  # this document gets no test cases; too many such stop the run
            empty = CoverageReport(
                document_id=doc.id, strength=strength, axes=[], rows=0, full_product=0,
                interactions_total=0, interactions_covered=0,
            )  # fmt: skip
            design = Design(document_id=doc.id, axes=[], test_cases=[], coverage=empty)
            return design, StageReport.tally(1, 0, {designed.reason_code: 1})
        axes, repairs = designed
        test_cases, coverage = build_test_cases(extraction, axes, strength, seed)
        with stage.trace.item(
            STAGE, doc.id, "covering array",
            f"covering array: {len(test_cases)} test cases, {coverage.interactions_covered}/"
            f"{coverage.interactions_total} interactions of strength {strength}",
            test_case_ids=[tc.id for tc in test_cases], rows=coverage.rows, full_product=coverage.full_product,
        ):  # fmt: skip
            pass
    design = Design(document_id=doc.id, axes=axes, test_cases=test_cases, coverage=coverage)
    # The test cases are accepted when the run picks them (select_test_cases), up to --max-examples.
    return design, StageReport.tally(len(test_cases), 0, notes=repairs)


def select_test_cases(designs: list[Design], max_examples: int | None) -> tuple[list[TestCase], StageReport]:
    """Round-robin over documents so a cap keeps every document represented."""
    queues = [list(d.test_cases) for d in designs]
    chosen: list[TestCase] = []
    while any(queues):
        for queue in queues:
            if queue:
                chosen.append(queue.pop(0))
    over = len(chosen) - max_examples if max_examples is not None and len(chosen) > max_examples else 0
    return chosen[: len(chosen) - over], StageReport.tally(0, len(chosen) - over, {"over_max_examples": over})


async def design(
    extractions: list[Extraction], context: StageContext, strength: int, seed: int, max_examples: int | None
) -> tuple[list[Design], list[TestCase], StageReport]:
    """Each document's axes and test cases, and the test cases the run writes examples for."""
    log.info("design: naming variation axes")
    with context.stage(STAGE, len(extractions)) as stage:
        results = await gather_all(design_document(x, stage, strength, seed) for x in extractions)
    designs = [d for d, _ in results]
    test_cases, selected = select_test_cases(designs, max_examples)
    return designs, test_cases, sum((report for _, report in results), selected)
