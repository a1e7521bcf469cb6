"""Stage 4: the bounded review loop.

write -> deterministic gates -> supervisor agent -> revise (at most N times) -> accept or reject.
Gates run on every version of every example, so the supervisor can only narrow what passes.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from synthgen.agents.supervisor import SupervisorDeps, supervisor_agent, supervisor_prompt
from synthgen.orchestrator.observe.tracing import set_attributes
from synthgen.orchestrator.run.runner import ItemFailed, ModelRunner
from synthgen.orchestrator.run.stages.write import Revision, write_example
from synthgen.schemas.drafts import Verdict
from synthgen.schemas.gates import GateReport
from synthgen.schemas.items import DatasetExample
from synthgen.tools.gates import ItemIndex, gate_report

REVIEW_BATCH_SIZE = 8


@dataclass(frozen=True)
class Rejection:
    example_id: str
    reason_code: str
    message: str


STAGE = "supervise"


def _verdict_text(verdict: Verdict) -> str:
    reason = f" ({verdict.reason_code})" if verdict.decision == "reject" and verdict.reason_code else ""
    return f"{verdict.item_id}: {verdict.decision}{reason}"


async def _review_batch(
    batch: list[DatasetExample], report_for_batch: GateReport, index: ItemIndex, runner: ModelRunner
) -> dict[str, Verdict]:
    ids = [e.id for e in batch]
    with runner.trace.item(
        STAGE, batch[0].metadata.document_id, "review", f"review {', '.join(ids)}", example_ids=ids
    ) as span:
        verdicts = await _review_batch_untraced(batch, report_for_batch, index, runner)
        set_attributes(span, verdicts=[_verdict_text(verdicts[i]) for i in ids if i in verdicts])
    return verdicts


async def _review_batch_untraced(
    batch: list[DatasetExample], report_for_batch: GateReport, index: ItemIndex, runner: ModelRunner
) -> dict[str, Verdict]:
    deps = SupervisorDeps(
        examples=batch,
        test_cases=[index.test_cases[e.test_case_id] for e in batch],
        policies=sorted(
            {pid: index.policies[pid] for e in batch for pid in e.metadata.policy_ids}.values(), key=lambda p: p.id
        ),
        gate_report=report_for_batch,
    )
    item = f"review of {', '.join(e.id for e in batch)}"
    try:
        review = await runner.run(supervisor_agent, supervisor_prompt(deps), deps, STAGE, item)
    except ItemFailed as err:
        # Unreviewed examples stay out: the supervisor's accept is part of the contract.
        return {e.id: Verdict(item_id=e.id, decision="reject", reason_code=err.reason_code) for e in batch}
    return {v.item_id: v for v in review.verdicts}


async def _review(
    examples: list[DatasetExample], gates: GateReport, index: ItemIndex, runner: ModelRunner
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
    results = await asyncio.gather(
        *(
            _review_batch(
                batch,
                GateReport(
                    checked=[e.id for e in batch],
                    findings=[f for f in gates.findings if f.item_id in {e.id for e in batch}],
                ),
                index,
                runner,
            )
            for batch in batches
        )
    )
    return {item_id: verdict for verdicts in results for item_id, verdict in verdicts.items()}


async def supervise(
    examples: Sequence[DatasetExample],
    index: ItemIndex,
    runner: ModelRunner,
    max_revisions: int,
) -> tuple[list[DatasetExample], list[Rejection]]:
    """Accepted examples (in input order) and the rejected ones with their reasons."""
    report = runner.stages[STAGE]
    order = {e.id: position for position, e in enumerate(examples)}
    report.requested += len(examples)
    runner.progress.expect(STAGE, len(examples))
    accepted: dict[str, DatasetExample] = {}
    rejected: list[Rejection] = []
    pending = list(examples)
    document_of = {e.id: e.metadata.document_id for e in examples}
    documents = sorted(set(document_of.values()))
    with runner.trace.stage(STAGE, documents):
        for attempt in range(max_revisions + 1):
            if not pending:
                break
            decided = len(accepted) + len(rejected)
            with runner.trace.level(
                STAGE,
                sorted({e.metadata.document_id for e in pending}),
                "supervise attempt",
                f"attempt {attempt + 1} of {max_revisions + 1}",
                attempt=attempt + 1,
            ):
                pending = await _attempt(pending, attempt, max_revisions, index, runner, accepted, rejected)
            runner.progress.advance(STAGE, len(accepted) + len(rejected) - decided)
        for document in documents:
            runner.trace.annotate(
                STAGE,
                document,
                accepted=[e for e, x in accepted.items() if x.metadata.document_id == document],
                rejected=[
                    f"{r.example_id}: {r.reason_code}" for r in rejected if document_of[r.example_id] == document
                ],
            )
    for rejection in rejected:
        report.reject(rejection.reason_code)
    report.accepted += len(accepted)
    return sorted(accepted.values(), key=lambda e: order[e.id]), rejected


async def _attempt(
    pending: list[DatasetExample],
    attempt: int,
    max_revisions: int,
    index: ItemIndex,
    runner: ModelRunner,
    accepted: dict[str, DatasetExample],
    rejected: list[Rejection],
) -> list[DatasetExample]:
    """One round: gates, then the supervisor on what passed, then rewrites; the examples to look at again."""
    report = runner.stages[STAGE]
    last_attempt = attempt == max_revisions
    gates = gate_report(pending, accepted.values(), index)
    to_revise: list[Revision] = []
    passing = []
    for example in pending:
        findings = [f for f in gates.findings if f.item_id == example.id]
        if not findings:
            passing.append(example)
            continue
        for finding in findings:
            report.note(f"gate_{finding.reason_code}")
        if last_attempt:
            rejected.append(Rejection(example.id, findings[0].reason_code, findings[0].message))
        else:
            to_revise.append(Revision("; ".join(f.message for f in findings), example))
    for document in {e.metadata.document_id for e in pending}:
        runner.trace.annotate(
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
    verdicts = await _review(passing, gates, index, runner) if passing else {}
    for example in passing:
        verdict = verdicts[example.id]
        if verdict.decision == "accept":
            accepted[example.id] = example
        elif verdict.decision == "reject":
            rejected.append(Rejection(example.id, verdict.reason_code or "supervisor_rejected", verdict.instruction))
        elif last_attempt:
            rejected.append(Rejection(example.id, "revisions_exhausted", verdict.instruction))
        else:
            report.note("supervisor_revise")
            to_revise.append(Revision(verdict.instruction, example))
    return await _rewrite(to_revise, index, runner, rejected)


async def _rewrite(
    revisions: list[Revision], index: ItemIndex, runner: ModelRunner, rejected: list[Rejection]
) -> list[DatasetExample]:
    async def rewrite(revision: Revision) -> DatasetExample | None:
        test_case = index.test_cases[revision.previous.test_case_id]
        example_id = revision.previous.id
        with runner.trace.item(
            STAGE, test_case.document_id, "revise example", f"revise {example_id}",
            example_id=example_id, test_case_id=test_case.id, revision=revision.previous.metadata.revisions + 1,
            instruction=revision.instruction,
        ) as span:  # fmt: skip
            try:
                return await write_example(test_case, index, runner, STAGE, revision)
            except ItemFailed as err:
                set_attributes(span, outcome="rejected", reason_code=err.reason_code)
                rejected.append(Rejection(example_id, err.reason_code, str(err)))
                return None

    rewritten = await asyncio.gather(*(rewrite(r) for r in revisions))
    return [example for example in rewritten if example is not None]
