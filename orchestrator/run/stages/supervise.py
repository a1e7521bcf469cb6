"""Stage 4: the bounded review loop.

write -> deterministic gates -> supervisor agent -> revise (at most N times) -> accept or reject.
Gates run on every version of every example, so the supervisor can only narrow what passes.
"""

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from synthgen.agents.supervisor import REVIEW_BATCH_SIZE, SupervisorDeps, supervisor_agent, supervisor_prompt
from synthgen.orchestrator.observe.tracing import annotate_current
from synthgen.orchestrator.run.items import Item, Rejected, Stage, StageContext, gather_all
from synthgen.orchestrator.run.stages.write import Revision, write_example
from synthgen.schemas.drafts import Verdict
from synthgen.schemas.gates import GateReport
from synthgen.schemas.items import DatasetExample
from synthgen.schemas.manifest import StageReport
from synthgen.schemas.stages import ItemIndex
from synthgen.tools.gates import gate_report

STAGE = "supervise"
log = logging.getLogger("synthgen")


@dataclass(frozen=True)
class Rejection:
    example_id: str
    reason_code: str
    message: str


@dataclass
class Round:
    """What one round of gates, review and rewrites decided."""

    accepted: list[DatasetExample] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    again: list[DatasetExample] = field(default_factory=list)  # rewritten: to look at in the next round
    notes: Counter[str] = field(default_factory=Counter)


def _verdict_text(verdict: Verdict) -> str:
    reason = f" ({verdict.reason_code})" if verdict.decision == "reject" and verdict.reason_code else ""
    return f"{verdict.item_id}: {verdict.decision}{reason}"


def _check_texts(verdict: Verdict) -> list[str]:
    """Each check of a verdict with its justification, for the trace."""
    return [f"{verdict.item_id} {c.check}: {'ok' if c.ok else 'fails'}: {c.why}" for c in verdict.checks]


async def _review_batch(
    batch: list[DatasetExample], gates: GateReport, index: ItemIndex, stage: Stage
) -> dict[str, Verdict]:
    ids = [e.id for e in batch]
    deps = SupervisorDeps(
        examples=batch,
        test_cases=[index.test_cases[e.test_case_id] for e in batch],
        policies=sorted(
            {pid: index.policies[pid] for e in batch for pid in e.metadata.policy_ids}.values(), key=lambda p: p.id
        ),
        gate_report=GateReport(checked=ids, findings=[f for f in gates.findings if f.item_id in set(ids)]),
        documents=index.documents,
    )
    item = Item(batch[0].metadata.document_id, "review", f"review {', '.join(ids)}", f"review of {', '.join(ids)}",
                {"example_ids": ids})  # fmt: skip

    async def work() -> dict[str, Verdict]:
        review = await stage.runner.run(supervisor_agent, supervisor_prompt(deps), deps, STAGE, item.name)
        verdicts = {v.item_id: v for v in review.verdicts}
        annotate_current(
            verdicts=[_verdict_text(verdicts[i]) for i in ids if i in verdicts],
            checks=[text for i in ids if i in verdicts for text in _check_texts(verdicts[i])],
        )
        return verdicts

    verdicts = await stage.run(item, work, advice="try a stronger model", advance=False)
    if isinstance(verdicts, Rejected):  # unreviewed examples stay out: the supervisor's accept is part of the contract
        return {i: Verdict(item_id=i, decision="reject", reason_code=verdicts.reason_code) for i in ids}
    return verdicts


async def _review(
    examples: list[DatasetExample], gates: GateReport, index: ItemIndex, stage: Stage
) -> dict[str, Verdict]:
    # Batches never mix documents, so each review belongs to one document's trace.
    by_document: dict[str, list[DatasetExample]] = {}
    for example in examples:
        by_document.setdefault(example.metadata.document_id, []).append(example)
    batches = [
        group[i : i + REVIEW_BATCH_SIZE]
        for group in by_document.values()
        for i in range(0, len(group), REVIEW_BATCH_SIZE)
    ]
    results = await gather_all(_review_batch(batch, gates, index, stage) for batch in batches)
    return {item_id: verdict for verdicts in results for item_id, verdict in verdicts.items()}


async def supervise(
    examples: Sequence[DatasetExample], index: ItemIndex, context: StageContext, max_revisions: int
) -> tuple[list[DatasetExample], StageReport]:
    """The accepted examples, in input order, and the stage's report."""
    log.info("supervise: reviewing %d example(s)", len(examples))
    order = {e.id: position for position, e in enumerate(examples)}
    accepted: list[DatasetExample] = []
    rejected: list[Rejection] = []
    notes: Counter[str] = Counter()
    pending = list(examples)
    document_of = {e.id: e.metadata.document_id for e in examples}
    documents = sorted(set(document_of.values()))
    # The review's model items are not known up front, so only the stage's end judges its failures.
    with context.stage(STAGE, len(examples), planned=False) as stage, stage.trace.stage(STAGE, documents):
        for attempt in range(max_revisions + 1):
            if not pending:
                break
            with stage.trace.level(
                STAGE,
                sorted({e.metadata.document_id for e in pending}),
                "supervise attempt",
                f"attempt {attempt + 1} of {max_revisions + 1}",
                attempt=attempt + 1,
            ):
                outcome = await _round(pending, attempt == max_revisions, accepted, index, stage)
            accepted += outcome.accepted
            rejected += outcome.rejected
            notes += outcome.notes
            pending = outcome.again
            context.progress.advance(STAGE, len(outcome.accepted) + len(outcome.rejected))
        for document in documents:
            stage.trace.annotate(
                STAGE,
                document,
                accepted=[e.id for e in accepted if e.metadata.document_id == document],
                rejected=[
                    f"{r.example_id}: {r.reason_code}" for r in rejected if document_of[r.example_id] == document
                ],
            )
    report = StageReport.tally(len(examples), len(accepted), Counter(r.reason_code for r in rejected), notes)
    return sorted(accepted, key=lambda e: order[e.id]), report


async def _round(
    pending: list[DatasetExample], last: bool, accepted: Sequence[DatasetExample], index: ItemIndex, stage: Stage
) -> Round:
    """Gates, then the supervisor on what passed, then rewrites of the rest (unless this is the last round)."""
    outcome = Round()
    gates = gate_report(pending, accepted, index)
    to_revise: list[Revision] = []
    passing = []
    for example in pending:
        findings = [f for f in gates.findings if f.item_id == example.id]
        if not findings:
            passing.append(example)
            continue
        outcome.notes.update(f"gate_{finding.reason_code}" for finding in findings)
        if last:
            outcome.rejected.append(Rejection(example.id, findings[0].reason_code, findings[0].message))
        else:
            to_revise.append(Revision("; ".join(f.message for f in findings), example))
    for document in {e.metadata.document_id for e in pending}:
        stage.trace.annotate(
            STAGE,
            document,
            gate_passed=[e.id for e in passing if e.metadata.document_id == document],
            gate_failed=[
                f"{f.item_id}: {f.reason_code}"
                for e in pending
                if e.metadata.document_id == document
                for f in gates.findings
                if f.item_id == e.id
            ],
        )
    verdicts = await _review(passing, gates, index, stage) if passing else {}
    for example in passing:
        verdict = verdicts[example.id]
        if verdict.decision == "accept":
            outcome.accepted.append(example)
        elif verdict.decision == "reject":
            outcome.rejected.append(
                Rejection(example.id, verdict.reason_code or "supervisor_rejected", verdict.instruction)
            )
        elif last:
            outcome.rejected.append(Rejection(example.id, "revisions_exhausted", verdict.instruction))
        else:
            outcome.notes["supervisor_revise"] += 1
            to_revise.append(Revision(verdict.instruction, example))
    for revision, result in zip(to_revise, await gather_all(_rewrite(r, index, stage) for r in to_revise)):
        if isinstance(result, Rejected):
            outcome.rejected.append(Rejection(revision.previous.id, result.reason_code, result.message))
        else:
            example, notes = result
            outcome.again.append(example)
            outcome.notes += notes
    return outcome


async def _rewrite(
    revision: Revision, index: ItemIndex, stage: Stage
) -> tuple[DatasetExample, Counter[str]] | Rejected:
    test_case = index.test_cases[revision.previous.test_case_id]
    example_id = revision.previous.id
    item = Item(
        test_case.document_id, "revise example", f"revise {example_id}", f"revision for test case {test_case.id}",
        {"example_id": example_id, "test_case_id": test_case.id, "revision": revision.previous.metadata.revisions + 1,
         "instruction": revision.instruction},
    )  # fmt: skip
    return await stage.run(
        item,
        lambda: write_example(test_case, index, stage.runner, STAGE, revision),
        advice="try a stronger model",
        advance=False,  # the rounds count an example once it is decided
    )
