"""Scores of a finished dataset, computed from its items alone: what `synthgen eval` reports."""

from collections.abc import Sequence
from dataclasses import dataclass

from synthgen.schemas.items import DatasetExample
from synthgen.tools.gates import ItemIndex, check_run


@dataclass(frozen=True)
class DatasetScores:
    examples: int
    evidence_checked: int
    evidence_invalid: int
    lineage_problems: int  # unresolvable references, malformed or repeated IDs
    duplicates: int
    policies: int
    policies_covered: int  # cited by at least one example's criteria
    criteria: int
    criteria_grounded: int  # cite a policy of their own test case

    @property
    def evidence_validity(self) -> float:
        return _share(self.evidence_checked - self.evidence_invalid, self.evidence_checked)

    @property
    def duplicate_rate(self) -> float:
        return 1.0 - _share(self.examples - self.duplicates, self.examples)

    @property
    def policy_coverage(self) -> float:
        return _share(self.policies_covered, self.policies)

    @property
    def criteria_grounding(self) -> float:
        return _share(self.criteria_grounded, self.criteria)

    @property
    def lineage_resolves(self) -> bool:
        return self.lineage_problems == 0


def _share(part: int, whole: int) -> float:
    # An empty dataset has nothing wrong in it, but nothing right either: report it as 0.
    return part / whole if whole else 0.0


def score_dataset(index: ItemIndex, examples: Sequence[DatasetExample]) -> DatasetScores:
    check = check_run(index, examples)
    criteria = [(example, criterion) for example in examples for criterion in example.evaluation_criteria]
    grounded = sum(
        1
        for example, criterion in criteria
        if example.test_case_id in index.test_cases
        and criterion.policy_id in index.test_cases[example.test_case_id].policy_ids
    )
    cited = {criterion.policy_id for _, criterion in criteria}
    return DatasetScores(
        examples=len(examples),
        evidence_checked=check.evidence_checked,
        evidence_invalid=len(check.evidence),
        lineage_problems=len(check.ids) + len(check.lineage),
        duplicates=len(check.duplicates),
        policies=len(index.policies),
        policies_covered=sum(1 for policy_id in index.policies if policy_id in cited),
        criteria=len(criteria),
        criteria_grounded=grounded,
    )
