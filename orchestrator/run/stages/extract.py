"""Stage 1: read the document in section windows and extract use cases and policies."""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from synthgen.agents.extraction import EVIDENCE_REPAIRS, ExtractionDeps, extraction_agent, extraction_prompt
from synthgen.errors import GateError
from synthgen.orchestrator.observe.tracing import set_attributes
from synthgen.orchestrator.run.runner import ItemFailed, ModelRunner
from synthgen.schemas.document import SourceDocument, Window
from synthgen.schemas.drafts import EvidenceDraft, ExtractionDraft, PolicyDraft, UseCaseDraft
from synthgen.schemas.items import Evidence, Policy, UseCase
from synthgen.schemas.manifest import StageReport
from synthgen.tools.ids import allocate_ids, normalize_key
from synthgen.tools.parser import document_title
from synthgen.tools.windows import section_windows


@dataclass(frozen=True)
class Extraction:
    document: SourceDocument
    use_cases: list[UseCase]
    policies: list[Policy]


STAGE = "extract"
log = logging.getLogger("synthgen")


async def _extract_window(doc: SourceDocument, window: Window, runner: ModelRunner) -> ExtractionDraft:
    deps = ExtractionDeps(document=doc, window=window)
    item = f"extraction of {doc.path} lines {window.line_start}-{window.line_end}"
    try:
        draft = await runner.run(extraction_agent, extraction_prompt(deps), deps, STAGE, item)
    except ItemFailed as err:
        # The window is rejected, loudly: too many of them stop the run (--max-failure-rate, failures.py).
        log.warning(
            "rejected %s; try a stronger model or a smaller --window-tokens",
            err,  # "<item>: <what went wrong>"
            extra={"event": "rejected", "item": item, "reason_code": err.reason_code},
        )
        runner.stages[STAGE].requested += 1
        runner.stages[STAGE].reject(err.reason_code)
        return ExtractionDraft(use_cases=[], policies=[])
    for repair in EVIDENCE_REPAIRS:
        runner.stages[STAGE].note(repair, deps.evidence_repairs[repair])
    runner.stages[STAGE].note("applies_to_repaired", deps.repaired_names)
    if deps.dropped:  # items the model proposed that nothing in the document grounds
        runner.stages[STAGE].requested += deps.dropped
        runner.stages[STAGE].reject("ungrounded_item", deps.dropped)
    return draft


def _merge_evidence(into: list[Evidence], more: list[Evidence]) -> None:
    for evidence in more:
        if evidence not in into:
            into.append(evidence)


def whole_document_use_case(doc: SourceDocument) -> UseCaseDraft | None:
    """One use case for everything the document governs, grounded on its title (None without one)."""
    titled = document_title(doc)
    if titled is None:
        return None
    line, title = titled
    return UseCaseDraft(
        name=f"Requests governed by {title}"[:100],
        actor="user",
        goal=f"get help that follows {title}"[:300],
        description="The model found rules but no use case in this document, so the whole document is one use case.",
        evidence=[EvidenceDraft(line_start=line, line_end=line, quote=title[:500])],
    )


def merge_drafts(doc: SourceDocument, drafts: list[ExtractionDraft], report: StageReport) -> Extraction:
    """Merge window answers: one use case per name, one policy per statement, then assign IDs."""
    use_cases: dict[str, UseCaseDraft] = {}
    policies: dict[str, PolicyDraft] = {}
    for draft in drafts:
        report.requested += len(draft.use_cases) + len(draft.policies)
        for use_case in draft.use_cases:
            key = normalize_key(use_case.name)
            if key in use_cases:
                _merge_evidence(use_cases[key].evidence, use_case.evidence)
                report.reject("duplicate_use_case")
            else:
                use_cases[key] = use_case.model_copy(deep=True)
        for policy in draft.policies:
            key = normalize_key(policy.statement)
            if key in policies:
                kept = policies[key]
                _merge_evidence(kept.evidence, policy.evidence)
                # An empty applies_to means "every use case"; merging must not narrow that.
                if kept.applies_to and policy.applies_to:
                    kept.applies_to.extend(n for n in policy.applies_to if n not in kept.applies_to)
                else:
                    kept.applies_to.clear()
                report.reject("duplicate_policy")
            else:
                policies[key] = policy.model_copy(deep=True)

    if policies and not use_cases:
        # Acceptable-use policies often state rules and no situations; rather than discard every
        # grounded rule, the whole document becomes one use case, quoted from its own title.
        whole = whole_document_use_case(doc)
        if whole is not None:
            use_cases[normalize_key(whole.name)] = whole
            report.requested += 1
            report.note("document_use_case_added")

    uc_ids = allocate_ids("uc_", [f"{doc.id}|{key}" for key in use_cases])
    uc_by_name = dict(zip(use_cases, uc_ids))
    final_use_cases = [
        UseCase(
            id=uc_id,
            document_id=doc.id,
            name=d.name,
            actor=d.actor,
            goal=d.goal,
            description=d.description,
            evidence=d.evidence,
        )
        for uc_id, d in zip(uc_ids, use_cases.values())
    ]
    pol_keys = [f"{doc.id}|{key}|{d.evidence[0].line_start}-{d.evidence[0].line_end}" for key, d in policies.items()]
    final_policies = []
    for pol_id, draft in zip(allocate_ids("pol_", pol_keys), policies.values()):
        applies_to = [uc_by_name[normalize_key(n)] for n in draft.applies_to if normalize_key(n) in uc_by_name]
        final_policies.append(
            Policy(
                id=pol_id,
                document_id=doc.id,
                statement=draft.statement,
                kind=draft.kind,
                conditions=draft.conditions,
                applies_to=applies_to or list(uc_ids),
                evidence=draft.evidence,
            )
        )
    report.accepted += len(final_use_cases) + len(final_policies)
    if not final_use_cases or not final_policies:
        raise GateError(
            f"{doc.path}: extraction found {len(final_use_cases)} use cases and {len(final_policies)} policies; "
            "a dataset needs at least one of each: check that the document states rules, or try a stronger model"
        )
    return Extraction(doc, final_use_cases, final_policies)


async def _traced_window(doc: SourceDocument, window: Window, runner: ModelRunner) -> tuple[ExtractionDraft, Any]:
    lines = f"{window.line_start}-{window.line_end}"
    with runner.trace.item(
        STAGE, doc.id, "extract window", f"window lines {lines}", lines=lines,
        section=" > ".join(window.heading_path) or None,
    ) as span:  # fmt: skip
        draft = await _extract_window(doc, window, runner)
        set_attributes(span, use_cases_found=len(draft.use_cases), policies_found=len(draft.policies))
    runner.progress.advance(STAGE)
    return draft, span.get_span_context()


def _trace_merge(
    doc: SourceDocument, extraction: Extraction, windows: list[tuple[ExtractionDraft, Any]], runner: ModelRunner
) -> None:
    """A span naming the IDs merged from the windows, linked to each window's span with the IDs it gave."""
    use_case_ids = {normalize_key(uc.name): uc.id for uc in extraction.use_cases}
    policy_ids = {normalize_key(p.statement): p.id for p in extraction.policies}
    links = []
    for draft, context in windows:
        ids = [use_case_ids[k] for uc in draft.use_cases if (k := normalize_key(uc.name)) in use_case_ids]
        ids += [policy_ids[k] for p in draft.policies if (k := normalize_key(p.statement)) in policy_ids]
        links.append((context, {"item_ids": sorted(set(ids))}))
    with runner.trace.item(
        STAGE, doc.id, "merge", f"merge: {len(extraction.use_cases)} use cases, {len(extraction.policies)} policies",
        links=links, use_case_ids=list(use_case_ids.values()), policy_ids=list(policy_ids.values()),
    ):  # fmt: skip
        pass


async def extract_document(doc: SourceDocument, runner: ModelRunner, window_tokens: int) -> Extraction:
    windows = section_windows(doc, window_tokens)
    runner.progress.expect(STAGE, len(windows))
    with runner.trace.stage(STAGE, [doc.id], windows=len(windows)):
        results = await asyncio.gather(*(_traced_window(doc, w, runner) for w in windows))
        extraction = merge_drafts(doc, [draft for draft, _ in results], runner.stages[STAGE])
        _trace_merge(doc, extraction, list(results), runner)
    return extraction
