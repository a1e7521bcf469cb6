"""Stage 1: read each document in section windows and extract use cases and policies."""

import logging
from collections import Counter

from opentelemetry.trace import SpanContext, get_current_span

from synthgen.agents.extraction import ExtractionDeps, extraction_agent, extraction_prompt
from synthgen.errors import GateError
from synthgen.orchestrator.observe.tracing import set_attributes
from synthgen.orchestrator.run.items import Item, Rejected, Stage, StageContext, gather_all
from synthgen.schemas.document import SourceDocument, Window
from synthgen.schemas.drafts import EvidenceDraft, ExtractionDraft, PolicyDraft, UseCaseDraft
from synthgen.schemas.items import Evidence, Policy, UseCase
from synthgen.schemas.manifest import StageReport
from synthgen.schemas.stages import Extraction
from synthgen.tools.ids import allocate_ids, normalize_key
from synthgen.tools.parser import document_title
from synthgen.tools.windows import section_windows

STAGE = "extract"
log = logging.getLogger("synthgen")


async def _extract_window(doc: SourceDocument, window: Window, stage: Stage) -> tuple[ExtractionDraft, StageReport]:
    """One window's answer and what became of the items it proposed; ItemFailed if the model fails on it."""
    deps = ExtractionDeps(document=doc, window=window)
    draft = await stage.runner.run(extraction_agent, extraction_prompt(deps), deps, STAGE, _item_name(doc, window))
    # Items the model proposed that nothing in the document grounds are rejected here.
    proposed = len(draft.use_cases) + len(draft.policies) + draft.dropped
    return draft, StageReport.tally(proposed, 0, {"ungrounded_item": draft.dropped}, draft.repairs)


def _item_name(doc: SourceDocument, window: Window) -> str:
    return f"extraction of {doc.path} lines {window.line_start}-{window.line_end}"


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


def merge_drafts(doc: SourceDocument, drafts: list[ExtractionDraft]) -> tuple[Extraction, StageReport]:
    """Merge window answers: one use case per name, one policy per statement, then assign IDs.

    The report counts the merge's own part: the items merged away as duplicates, the use case it
    may add, and every item it accepts (the windows' reports count what the model proposed).
    """
    use_cases: dict[str, UseCaseDraft] = {}
    policies: dict[str, PolicyDraft] = {}
    reasons: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    for draft in drafts:
        for use_case in draft.use_cases:
            key = normalize_key(use_case.name)
            if key in use_cases:
                _merge_evidence(use_cases[key].evidence, use_case.evidence)
                reasons["duplicate_use_case"] += 1
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
                reasons["duplicate_policy"] += 1
            else:
                policies[key] = policy.model_copy(deep=True)

    if policies and not use_cases:
        # Acceptable-use policies often state rules and no situations; rather than discard every
        # grounded rule, the whole document becomes one use case, quoted from its own title.
        whole = whole_document_use_case(doc)
        if whole is not None:
            use_cases[normalize_key(whole.name)] = whole
            notes["document_use_case_added"] += 1

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
    accepted = len(final_use_cases) + len(final_policies)
    report = StageReport.tally(notes["document_use_case_added"], accepted, reasons, notes)
    if not final_use_cases or not final_policies:
        raise GateError(
            f"{doc.path}: extraction found {len(final_use_cases)} use cases and {len(final_policies)} policies; "
            "a dataset needs at least one of each: check that the document states rules, or try a stronger model"
        )
    return Extraction(document=doc, use_cases=final_use_cases, policies=final_policies), report


def _trace_merge(
    doc: SourceDocument, extraction: Extraction, windows: list[tuple[ExtractionDraft, SpanContext]], stage: Stage
) -> None:
    """A span naming the IDs merged from the windows, linked to each window's span with the IDs it gave."""
    use_case_ids = {normalize_key(uc.name): uc.id for uc in extraction.use_cases}
    policy_ids = {normalize_key(p.statement): p.id for p in extraction.policies}
    links = []
    for draft, context in windows:
        ids = [use_case_ids[k] for uc in draft.use_cases if (k := normalize_key(uc.name)) in use_case_ids]
        ids += [policy_ids[k] for p in draft.policies if (k := normalize_key(p.statement)) in policy_ids]
        links.append((context, {"item_ids": sorted(set(ids))}))
    with stage.trace.item(
        STAGE, doc.id, "merge", f"merge: {len(extraction.use_cases)} use cases, {len(extraction.policies)} policies",
        links=links, use_case_ids=list(use_case_ids.values()), policy_ids=list(policy_ids.values()),
    ):  # fmt: skip
        pass


async def _window(
    doc: SourceDocument, window: Window, stage: Stage
) -> tuple[ExtractionDraft, StageReport, SpanContext]:
    """The window's draft and report, and its span's context for the merge span's links."""
    lines = f"{window.line_start}-{window.line_end}"
    item = Item(
        doc.id, "extract window", f"window lines {lines}", _item_name(doc, window),
        {"lines": lines, "section": " > ".join(window.heading_path) or None},
    )  # fmt: skip

    async def work() -> tuple[ExtractionDraft, StageReport, SpanContext]:
        draft, report = await _extract_window(doc, window, stage)
        span = get_current_span()  # the window's, which `stage.run` opened
        set_attributes(span, use_cases_found=len(draft.use_cases), policies_found=len(draft.policies))
        return draft, report, span.get_span_context()

    result = await stage.run(item, work, advice="try a stronger model or a smaller --window-tokens")
    if isinstance(result, Rejected):  # the window adds nothing; too many such windows stop the run
        empty = ExtractionDraft(use_cases=[], policies=[])
        return empty, StageReport.tally(1, 0, {result.reason_code: 1}), result.span
    return result


async def extract_document(doc: SourceDocument, windows: list[Window], stage: Stage) -> tuple[Extraction, StageReport]:
    with stage.trace.stage(STAGE, [doc.id], windows=len(windows)):
        results = await gather_all(_window(doc, w, stage) for w in windows)
        extraction, merged = merge_drafts(doc, [draft for draft, _, _ in results])
        _trace_merge(doc, extraction, [(draft, span) for draft, _, span in results], stage)
    return extraction, sum((report for _, report, _ in results), merged)


async def extract(
    documents: list[SourceDocument], context: StageContext, window_tokens: int
) -> tuple[list[Extraction], StageReport]:
    """Every document's use cases and policies; GateError if a document yields none of either."""
    windows = {doc.id: section_windows(doc, window_tokens) for doc in documents}
    log.info("extract: %d document(s)", len(documents))
    with context.stage(STAGE, sum(len(w) for w in windows.values())) as stage:
        results = await gather_all(extract_document(doc, windows[doc.id], stage) for doc in documents)
    return [extraction for extraction, _ in results], sum((report for _, report in results), StageReport())
