"""Stage 2: the designer names axes whose values make rules apply or not; the code makes the test cases.

Per use case a covering array combines the axes that reach its rules; every test case carries the
rules that decide it, its expected outcome (derived, tools/outcomes.py) and what the reply must
and must not do. Rules no axis reaches get a test case each; contrast pairs are added where the
array has none (tools/test_plan.py). A budget keeps the cases that cover the most rules first.
"""

import logging

from synthgen.agents.designer import DesignerDeps, designer_agent, designer_prompt
from synthgen.orchestrator.observe.tracing import annotate_current
from synthgen.orchestrator.run.items import Item, Rejected, Stage, StageContext, gather_all
from synthgen.schemas.drafts import MAX_DESIGN_RULES
from synthgen.schemas.items import Axis, Policy, TestCase, UseCase
from synthgen.schemas.manifest import StageReport
from synthgen.schemas.outcomes import ContrastPair
from synthgen.schemas.stages import Design, Extraction
from synthgen.tools.ids import allocate_ids
from synthgen.tools.outcomes import expected_behaviour
from synthgen.tools.repairs import repair_design
from synthgen.tools.test_plan import PlannedCase, PlannedPair, home_use_case, plan_use_case, select_cases

log = logging.getLogger("synthgen")

STAGE = "design"


def scenario(use_case: UseCase, case: PlannedCase, policies: dict[str, Policy]) -> str:
    """The situation in words: who wants what, and the values (or, for a rule alone, that it applies)."""
    wants = f"{use_case.actor} wants to {use_case.goal.rstrip('.')}."
    if case.axis_values:
        text = f"{wants} Their situation: " + "; ".join(value for _, value in case.axis_values) + "."
    else:
        text = f"{wants} Their situation is one the rule {policies[case.tested_ids[0]].statement!r} applies to."
    met = [policies[rule.policy_id].statement for rule in case.deciding if rule.status == "satisfied"]
    if met:
        text += " They have already given what these rules ask for first: " + "; ".join(repr(s) for s in met) + "."
    return text


def build_test_cases(
    extraction: Extraction, axes: list[Axis], strength: int, seed: int
) -> tuple[list[TestCase], list[ContrastPair]]:
    """Every use case's planned cases as test cases with IDs, and the contrast pairs between them."""
    policies = {p.id: p for p in extraction.policies}
    use_cases = {uc.id: uc for uc in extraction.use_cases}
    planned: list[PlannedCase] = []
    pairs: list[PlannedPair] = []
    homes = {policy.id: home_use_case(policy, extraction.use_cases) for policy in extraction.policies}
    for use_case in extraction.use_cases:
        cases, found = plan_use_case(use_case, axes, policies, strength, seed, homes)
        planned += cases
        pairs += found
    ids = dict(zip([case.key for case in planned], allocate_ids("tc_", [case.key for case in planned])))
    test_cases = [
        TestCase(
            id=ids[case.key],
            document_id=extraction.document.id,
            use_case_id=case.use_case_id,
            policy_ids=case.rule_ids,
            axis_values=dict(case.axis_values),
            scenario=scenario(use_cases[case.use_case_id], case, policies),
            deciding_rules=list(case.deciding),
            expected_outcome=case.outcome,
            must=list(case.must),
            must_not=list(case.must_not),
            expected_behaviour=expected_behaviour(case.outcome, case.must, case.must_not),
        )
        for case in planned
    ]
    contrast = [
        ContrastPair(policy_id=pair.policy_id, axis=pair.axis, test_case_ids=[ids[pair.first], ids[pair.second]])
        for pair in pairs
    ]
    return test_cases, contrast


async def design_document(extraction: Extraction, stage: Stage, strength: int, seed: int) -> tuple[Design, StageReport]:
    """The document's axes, test cases and contrast pairs; none if the model fails on its design."""
    doc = extraction.document
    rules = extraction.policies[:MAX_DESIGN_RULES]
    deps = DesignerDeps(document=doc, use_cases=extraction.use_cases, rules=rules)
    item = Item(
        doc.id, "test design", "test design: axes whose values make rules apply", f"test design for {doc.path}",
        {"use_case_ids": [uc.id for uc in extraction.use_cases], "policy_ids": [p.id for p in rules]},
    )  # fmt: skip

    async def work() -> tuple[list[Axis], dict[str, int]]:
        draft = await stage.runner.run(designer_agent, designer_prompt(deps), deps, STAGE, item.name)
        axes = repair_design(draft, rules).result
        annotate_current(axes=[a.name for a in axes], repairs=sum(draft.repairs.values()))
        return axes, draft.repairs

    with stage.trace.stage(STAGE, [doc.id]):
        designed = await stage.run(item, work, advice="try a stronger model")
        if isinstance(designed, Rejected):  # this document gets no test cases; too many such stop the run
            failed = Design(document_id=doc.id, strength=strength, axes=[], test_cases=[], contrast_pairs=[],
                            designed=False)  # fmt: skip
            return failed, StageReport.tally(1, 0, {designed.reason_code: 1})
        axes, repairs = designed
        test_cases, pairs = build_test_cases(extraction, axes, strength, seed)
        with stage.trace.item(
            STAGE, doc.id, "test cases",
            f"test cases: {len(test_cases)} over {len(axes)} axes, {len(pairs)} contrast pairs",
            test_case_ids=[tc.id for tc in test_cases], contrast_pairs=len(pairs),
            outcomes=sorted({tc.expected_outcome for tc in test_cases}),
        ):  # fmt: skip
            pass
    design = Design(document_id=doc.id, strength=strength, axes=axes, test_cases=test_cases, contrast_pairs=pairs,
                    designed=True)  # fmt: skip
    # The test cases are accepted when the run picks them (select_test_cases), up to --max-examples.
    return design, StageReport.tally(len(test_cases), 0, notes=repairs)


def select_test_cases(
    designs: list[Design], strength: int, max_examples: int | None
) -> tuple[list[TestCase], StageReport]:
    """The cases that cover the most rules first, then contrast pairs, then value combinations; a warning
    names the rules --max-examples leaves without a test case."""
    cases = [tc for d in designs for tc in d.test_cases]
    pairs = [pair for d in designs for pair in d.contrast_pairs]
    chosen = select_cases(cases, pairs, strength, max_examples)
    left, rules = uncovered_by_budget(designs, chosen)
    if left:
        log.warning(
            "--max-examples %d leaves %d of %d rules without a test case; raise it to cover them all",
            max_examples, left, rules,
        )  # fmt: skip
    over = len(cases) - len(chosen)
    return chosen, StageReport.tally(0, len(chosen), {"over_max_examples": over})


def uncovered_by_budget(designs: list[Design], chosen: list[TestCase]) -> tuple[int, int]:
    """(rules no chosen test case has, rules in all)."""
    rules = {pid for d in designs for tc in d.test_cases for pid in tc.tested_policy_ids}
    kept = {pid for tc in chosen for pid in tc.tested_policy_ids}
    return len(rules - kept), len(rules)


async def design(
    extractions: list[Extraction], context: StageContext, strength: int, seed: int
) -> tuple[list[Design], StageReport]:
    """Each document's design. The run picks the test cases it writes examples for from all of them
    (select_test_cases), once every document of the run is designed."""
    log.info("design: axes and test cases")
    with context.stage(STAGE, len(extractions)) as stage:
        results = await gather_all(design_document(x, stage, strength, seed) for x in extractions)
    return [d for d, _ in results], sum((report for _, report in results), StageReport())
