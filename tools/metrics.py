"""Scores of a finished dataset, computed from its items alone: what `synthgen eval` reports."""

import re
from collections.abc import Sequence

from pydantic import computed_field

from synthgen.schemas.base import StrictModel
from synthgen.schemas.items import DatasetExample, EvaluationCriterion, Policy
from synthgen.schemas.stages import ItemIndex
from synthgen.tools.gates import check_run, label_findings
from synthgen.tools.substance import example_substance


class DatasetScores(StrictModel, frozen=True):
    examples: int
    evidence_checked: int
    evidence_invalid: int
    lineage_problems: int  # unresolvable references, malformed or repeated IDs
    duplicates: int
    policies: int
    policies_covered: int  # cited by at least one example's criteria
    criteria: int
    criteria_grounded: int  # cite a policy of their own test case
    criteria_on_topic: int  # share a content word with the policy they cite or their quotes
    copied: int = 0  # examples whose reply, user turns or criteria copy a run of the writer's instructions
    echoed: int = 0  # examples whose reply echoes a criterion, the scenario or the expected behaviour
    outcome_contradicted: int = 0  # examples whose reply plainly contradicts the expected outcome (cue check)
    conflicting_labels: int = 0  # examples whose input an earlier one has with another expected outcome

    @computed_field  # type: ignore[prop-decorator]
    @property
    def evidence_validity(self) -> float:
        return _share(self.evidence_checked - self.evidence_invalid, self.evidence_checked)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def copy_rate(self) -> float:
        return 1.0 - _share(self.examples - self.copied, self.examples)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duplicate_rate(self) -> float:
        return 1.0 - _share(self.examples - self.duplicates, self.examples)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def policy_coverage(self) -> float:
        return _share(self.policies_covered, self.policies)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def criteria_grounding(self) -> float:
        return _share(self.criteria_grounded, self.criteria)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def criteria_relevance(self) -> float:
        return _share(self.criteria_on_topic, self.criteria)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def lineage_resolves(self) -> bool:
        return self.lineage_problems == 0


def _share(part: int, whole: int) -> float:
    # An empty dataset has nothing wrong in it, but nothing right either: report it as 0.
    return part / whole if whole else 0.0


# Words every criterion may use whatever its topic; a criterion sharing only these with its
# policy says nothing about it ("The reply declines the refund ..." citing an orders rule).
# fmt: off
_FUNCTION_WORDS = frozenset({
    "about", "after", "also", "answer", "assistant", "because", "before", "being", "does", "from", "have",
    "into", "must", "never", "only", "reply", "should", "than", "that", "their", "them", "then", "there",
    "these", "they", "this", "those", "under", "when", "where", "which", "while", "will", "with", "without",
    "would", "your",
})
# fmt: on
_STEM = 5  # letters compared, so "refunds" meets "refund" and "delivered" meets "delivery"


def content_stems(text: str) -> set[str]:
    return {word[:_STEM] for word in re.findall(r"[a-z]{4,}", text.casefold()) if word not in _FUNCTION_WORDS}


def criterion_on_topic(criterion: EvaluationCriterion, policy: Policy | None) -> bool:
    """Whether a criterion shares a content word with the policy it cites or the quotes it gives.

    A cheap lexical check, reported and never enforced: it catches criteria copied from an
    unrelated illustration, and a criterion written wholly in synonyms would fail it too.
    """
    about = " ".join([policy.statement if policy else "", *(evidence.quote for evidence in criterion.evidence)])
    return bool(content_stems(criterion.criterion) & content_stems(about))


def _substance(example: DatasetExample, index: ItemIndex, instructions: str) -> set[str]:
    """The substance gates' reason codes for one example, as the writer's validator runs them."""
    test_case = index.test_cases.get(example.test_case_id)
    if test_case is None:
        return set()
    problems = example_substance(
        example.messages,
        expected_output=example.expected_output,
        criteria=[c.criterion for c in example.evaluation_criteria if c.source == "writer"],
        scenario=test_case.scenario,
        expected_behaviour=test_case.expected_behaviour,
        axis_values=test_case.axis_values,
        outcome=test_case.expected_outcome,
        instructions=instructions,
        rule_texts=[p.wording for pid in test_case.policy_ids if (p := index.policies.get(pid))],
    )
    return {problem.reason_code for problem in problems}


def score_dataset(index: ItemIndex, examples: Sequence[DatasetExample], instructions: str = "") -> DatasetScores:
    """The scores; `instructions` is the writer's prompt template, for the copy check (none: nothing is copied)."""
    check = check_run(index, examples)
    substance = [_substance(example, index, instructions) for example in examples]
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
        criteria_on_topic=sum(
            1 for _, criterion in criteria if criterion_on_topic(criterion, index.policies.get(criterion.policy_id))
        ),
        copied=sum("copied_from_prompt" in codes for codes in substance),
        echoed=sum("echoed_output" in codes for codes in substance),
        outcome_contradicted=sum("outcome_contradicted" in codes for codes in substance),
        conflicting_labels=sum(1 for f in label_findings(examples) if f.reason_code == "conflicting_labels"),
    )
