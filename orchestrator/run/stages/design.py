"""Stage 2: name the variation axes once per document, then let a covering array pick test cases.

The use case is itself an axis, so every use case meets every value of every other axis.
"""

import logging
from dataclasses import dataclass

from synthgen.agents.test_design import TestDesignDeps, test_design_agent, test_design_prompt
from synthgen.orchestrator.observe.tracing import set_attributes
from synthgen.orchestrator.run.runner import ItemFailed, ModelRunner
from synthgen.orchestrator.run.stages.extract import Extraction
from synthgen.schemas.items import Axis, Policy, TestCase, UseCase
from synthgen.schemas.manifest import AxisCoverage, CoverageReport
from synthgen.tools.combinatorics import Row, coverage_stats, covering_array
from synthgen.tools.ids import allocate_ids

log = logging.getLogger("synthgen")

STAGE = "design"
USE_CASE_AXIS = "use_case"
# Enough policies for a focused example; more would turn every example into a checklist.
MAX_POLICIES_PER_TEST_CASE = 3


@dataclass(frozen=True)
class Design:
    document_id: str
    axes: list[Axis]
    test_cases: list[TestCase]
    coverage: CoverageReport


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


async def design_test_cases(extraction: Extraction, runner: ModelRunner, strength: int, seed: int) -> Design:
    doc = extraction.document
    deps = TestDesignDeps(document=doc, use_cases=extraction.use_cases, policies=extraction.policies)
    with runner.trace.stage(STAGE, [doc.id]):
        with runner.trace.item(
            STAGE, doc.id, "test design", "test design: name the variation axes",
            use_case_ids=[uc.id for uc in extraction.use_cases], policy_ids=[p.id for p in extraction.policies],
        ) as span:  # fmt: skip
            try:
                draft = await runner.run(
                    test_design_agent, test_design_prompt(deps), deps, STAGE, f"test design for {doc.path}"
                )
            except ItemFailed as err:
                # This document gets no test cases; too many such documents stop the run (failures.py).
                log.warning(
                    "rejected %s; try a stronger model",
                    err,  # "test design for <path>: <what went wrong>"
                    extra={"event": "rejected", "item": doc.path, "reason_code": err.reason_code},
                )
                set_attributes(span, outcome="rejected", reason_code=err.reason_code)
                runner.stages[STAGE].requested += 1
                runner.stages[STAGE].reject(err.reason_code)
                runner.progress.advance(STAGE)
                empty = CoverageReport(
                    document_id=doc.id, strength=strength, axes=[], rows=0, full_product=0,
                    interactions_total=0, interactions_covered=0,
                )  # fmt: skip
                return Design(doc.id, [], [], empty)
            set_attributes(span, axes=[a.name for a in draft.axes], repairs=deps.repairs)
        runner.stages[STAGE].note("axis_problem_repaired", deps.repairs)
        axes = [Axis(name=a.name, values=a.values, rationale=a.rationale, policy_ids=a.policy_ids) for a in draft.axes]
        test_cases, coverage = build_test_cases(extraction, axes, strength, seed)
        with runner.trace.item(
            STAGE, doc.id, "covering array",
            f"covering array: {len(test_cases)} test cases, {coverage.interactions_covered}/"
            f"{coverage.interactions_total} interactions of strength {strength}",
            test_case_ids=[tc.id for tc in test_cases], rows=coverage.rows, full_product=coverage.full_product,
        ):  # fmt: skip
            pass
    runner.stages[STAGE].requested += len(test_cases)
    runner.progress.advance(STAGE)
    return Design(doc.id, axes, test_cases, coverage)
