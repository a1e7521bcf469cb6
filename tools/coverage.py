"""What a run's written examples cover: per document (values, rules, contrast pairs) and per rule.

Coverage is of what was written, never of what was planned: a test case over --max-examples or
an example the supervisor rejected covers nothing, and each uncovered rule says which it was.
"""

from collections.abc import Sequence

from synthgen.schemas.items import DatasetExample, Policy, TestCase
from synthgen.schemas.manifest import AxisCoverage, CoverageReport, RuleCoverage, UncoveredReason
from synthgen.schemas.outcomes import ContrastPair
from synthgen.schemas.stages import Design
from synthgen.tools.test_plan import interactions


def written_pairs(designs: Sequence[Design], examples: Sequence[DatasetExample]) -> list[ContrastPair]:
    """The designed contrast pairs whose two examples were both written."""
    written = {example.test_case_id for example in examples}
    return [p for d in designs for p in d.contrast_pairs if all(tc in written for tc in p.test_case_ids)]


def document_coverage(design: Design, examples: Sequence[DatasetExample], rules: int) -> CoverageReport:
    cases = {tc.id: tc for tc in design.test_cases}
    written = [cases[e.test_case_id] for e in examples if e.test_case_id in cases]
    designed_shown = set().union(*(interactions(tc, design.strength) for tc in design.test_cases))
    written_shown = set().union(*(interactions(tc, design.strength) for tc in written))
    return CoverageReport(
        document_id=design.document_id,
        strength=design.strength,
        axes=[AxisCoverage(name=axis.name, values=axis.values) for axis in design.axes],
        test_cases_designed=len(design.test_cases),
        examples_written=len(written),
        interactions_total=len(designed_shown),
        interactions_covered=len(written_shown),
        rules=rules,
        rules_covered=len({pid for tc in written for pid in tc.tested_policy_ids}),
        contrast_rules=len({pair.policy_id for pair in design.contrast_pairs}),
        contrast_pairs_written=len(written_pairs([design], examples)),
    )


def rule_coverage(
    policies: Sequence[Policy],
    designs: Sequence[Design],
    chosen: Sequence[TestCase],
    examples: Sequence[DatasetExample],
) -> list[RuleCoverage]:
    """Every rule, in policy order: the written examples it decides, or why it has none."""
    designed = {pid for d in designs for tc in d.test_cases for pid in tc.tested_policy_ids}
    selected = {pid for tc in chosen for pid in tc.tested_policy_ids}
    cases = {tc.id: tc for d in designs for tc in d.test_cases}
    paired = {pair.policy_id for pair in written_pairs(designs, examples)}
    result = []
    for policy in policies:
        mine = [e for e in examples if policy.id in cases[e.test_case_id].tested_policy_ids]
        reason: UncoveredReason | None = None
        if not mine:
            reason = "rejected" if policy.id in selected else "budget" if policy.id in designed else "not_designed"
        result.append(
            RuleCoverage(
                policy_id=policy.id,
                document_id=policy.document_id,
                examples=[e.id for e in mine],
                outcomes=sorted({cases[e.test_case_id].expected_outcome for e in mine}),
                contrast_pair=policy.id in paired,
                uncovered=reason,
            )
        )
    return result
