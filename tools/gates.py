"""Deterministic gates: what every example and every finished run must satisfy.

They run after the model, always, so no model answer can talk an invalid item into a dataset.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from synthgen.schemas.document import SourceDocument
from synthgen.schemas.gates import GateFinding, GateReport
from synthgen.schemas.items import DatasetExample, Evidence, Message
from synthgen.schemas.stages import ItemIndex
from synthgen.tools.duplicates import find_duplicates
from synthgen.tools.evidence import check_evidence
from synthgen.tools.substance import LabelledInput, conflicting_labels, input_key, same_output_different_outcome


def conversation_text(example: DatasetExample) -> str:
    """What makes two examples the same test: the input. Two examples with one conversation and two
    replies are one test asked twice (or, with two outcomes, a conflicting label: label_findings)."""
    return "\n".join(f"{m.role}: {m.content}" for m in example.messages)


def conversation_findings(item_id: str, messages: Sequence[Message]) -> list[GateFinding]:
    """The conversation ends with the user's turn, and only its first message may be a system message.

    The example writer's output validator asks the model to fix these; `synthgen validate` and the
    supervisor's gates check every example with the same function.
    """
    findings = []
    last = messages[-1]
    if last.role != "user":
        findings.append(
            GateFinding(
                item_id=item_id,
                gate="conversation",
                reason_code="last_turn_not_user",
                message=f"the last message has role {last.role!r}; the conversation must end with a 'user' turn "
                "(the assistant's reply belongs in expected_output)",
            )
        )
    misplaced = [n for n, message in enumerate(messages, 1) if message.role == "system" and n > 1]
    if misplaced:
        findings.append(
            GateFinding(
                item_id=item_id,
                gate="conversation",
                reason_code="system_turn_not_first",
                message=f"message(s) {', '.join(map(str, misplaced))} have role 'system'; "
                "only the first message may be a system message",
            )
        )
    return findings


def _evidence_findings(
    item_id: str, where: str, doc: SourceDocument, evidence: Sequence[Evidence]
) -> list[GateFinding]:
    findings = []
    for number, cited in enumerate(evidence, 1):
        check = check_evidence(doc, cited)
        if not check.ok:
            findings.append(
                GateFinding(
                    item_id=item_id,
                    gate="evidence",
                    reason_code=check.reason_code,
                    message=f"{where} evidence {number}: {check.message}",
                )
            )
    return findings


def example_findings(example: DatasetExample, index: ItemIndex) -> list[GateFinding]:
    """Why this example may not enter the dataset; empty when it may."""
    test_case = index.test_cases.get(example.test_case_id)
    if test_case is None:
        return [
            GateFinding(
                item_id=example.id,
                gate="lineage",
                reason_code="unknown_test_case",
                message=f"test case {example.test_case_id} does not exist",
            )
        ]
    doc = index.documents[test_case.document_id]
    findings = conversation_findings(example.id, example.messages)
    for number, criterion in enumerate(example.evaluation_criteria, 1):
        if criterion.policy_id not in test_case.policy_ids:
            findings.append(
                GateFinding(
                    item_id=example.id,
                    gate="criteria_policy",
                    reason_code="criterion_policy_not_in_test_case",
                    message=f"criterion {number} cites {criterion.policy_id}; the test case's policies are "
                    f"{', '.join(test_case.policy_ids)}",
                )
            )
        findings.extend(_evidence_findings(example.id, f"criterion {number}", doc, criterion.evidence))
    return findings


def duplicate_findings(examples: Sequence[DatasetExample]) -> list[GateFinding]:
    """A later example that repeats an earlier one (exactly or up to case, spacing, punctuation)."""
    groups = find_duplicates([(e.id, conversation_text(e)) for e in examples])
    return [
        GateFinding(
            item_id=duplicate,
            gate="duplicate",
            reason_code=f"duplicate_{group.kind}",
            message=f"repeats example {group.kept_id}: write a different conversation for this scenario",
        )
        for group in groups
        for duplicate in group.duplicate_ids
    ]


def label_findings(examples: Sequence[DatasetExample]) -> list[GateFinding]:
    """A later example whose conversation, or whose reply, an earlier one has with another expected outcome."""
    items = [
        LabelledInput(item_id=e.id, input_key=input_key(e.messages), expected_output=e.expected_output,
                      outcome=e.metadata.expected_outcome)
        for e in examples
    ]  # fmt: skip
    return [
        GateFinding(item_id=item_id, gate="labels", reason_code=problem.reason_code, message=problem.message)
        for item_id, problem in [*conflicting_labels(items), *same_output_different_outcome(items)]
    ]


def gate_report(pending: Sequence[DatasetExample], accepted: Iterable[DatasetExample], index: ItemIndex) -> GateReport:
    """Gate findings for the pending examples; accepted ones only count as originals for duplicates and labels."""
    findings = [f for example in pending for f in example_findings(example, index)]
    pending_ids = {e.id for e in pending}
    seen = [*accepted, *pending]
    findings.extend(f for f in [*duplicate_findings(seen), *label_findings(seen)] if f.item_id in pending_ids)
    return GateReport(checked=[e.id for e in pending], findings=findings)


_PREFIXES = {"use case": "uc_", "policy": "pol_", "test case": "tc_", "example": "ex_"}


@dataclass
class RunCheck:
    """What a finished dataset got wrong, by kind, with how much evidence was checked."""

    ids: list[str] = field(default_factory=list)
    lineage: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    evidence_checked: int = 0
    duplicates: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [*self.ids, *self.evidence, *self.lineage, *self.duplicates]


def _check_ids(check: RunCheck, index: ItemIndex, examples: Sequence[DatasetExample]) -> None:
    groups: dict[str, Sequence[str]] = {
        "use case": list(index.use_cases),
        "policy": list(index.policies),
        "test case": list(index.test_cases),
        "example": [e.id for e in examples],
    }
    for kind, ids in groups.items():
        prefix = _PREFIXES[kind]
        check.ids += [f"{kind} {i}: ID must start with {prefix}" for i in ids if not i.startswith(prefix)]
        seen: set[str] = set()
        for item_id in ids:
            if item_id in seen:
                check.ids.append(f"{kind} {item_id}: ID is not unique")
            seen.add(item_id)


def _check_cited(
    check: RunCheck, kind: str, item_id: str, document_id: str, evidence: Sequence[Evidence], index: ItemIndex
) -> None:
    doc = index.documents.get(document_id)
    if doc is None:
        check.lineage.append(f"{kind} {item_id}: document {document_id} is not an input of this run")
        return
    check.evidence_checked += len(evidence)
    check.evidence += [f.message for f in _evidence_findings(item_id, f"{kind} {item_id}", doc, evidence)]


def check_run(index: ItemIndex, examples: Sequence[DatasetExample]) -> RunCheck:
    """Check a finished dataset: IDs, every evidence quote, lineage ex -> tc -> uc/pol, duplicates."""
    check = RunCheck()
    _check_ids(check, index, examples)
    for uc in index.use_cases.values():
        _check_cited(check, "use case", uc.id, uc.document_id, uc.evidence, index)
    for pol in index.policies.values():
        _check_cited(check, "policy", pol.id, pol.document_id, pol.evidence, index)
        check.lineage += [
            f"policy {pol.id}: applies to unknown use case {u}" for u in pol.applies_to if u not in index.use_cases
        ]
    for tc in index.test_cases.values():
        if tc.document_id not in index.documents:
            check.lineage.append(f"test case {tc.id}: document {tc.document_id} is not an input of this run")
        if tc.use_case_id not in index.use_cases:
            check.lineage.append(f"test case {tc.id}: unknown use case {tc.use_case_id}")
        check.lineage += [f"test case {tc.id}: unknown policy {p}" for p in tc.policy_ids if p not in index.policies]
    for example in examples:
        test_case = index.test_cases.get(example.test_case_id)
        if test_case is not None and test_case.document_id not in index.documents:
            continue  # reported on its test case; without the document nothing can be checked
        if test_case is not None:
            check.evidence_checked += sum(len(c.evidence) for c in example.evaluation_criteria)
        for finding in example_findings(example, index):
            target = check.evidence if finding.gate == "evidence" else check.lineage
            target.append(f"example {example.id}: {finding.message}")
        if test_case is not None and (
            example.metadata.use_case_id != test_case.use_case_id
            or example.metadata.policy_ids != test_case.policy_ids
            or example.metadata.document_id != test_case.document_id
        ):
            check.lineage.append(f"example {example.id}: metadata does not match test case {test_case.id}")
    check.duplicates += [f"example {f.item_id}: {f.message}" for f in duplicate_findings(examples)]
    return check


def run_problems(index: ItemIndex, examples: Sequence[DatasetExample]) -> list[str]:
    """Every reason a finished dataset is not self-consistent: IDs, evidence and lineage."""
    return check_run(index, examples).problems
