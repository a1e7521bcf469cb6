"""Stage 1: every candidate statement of each document decided by the model, then use cases and policies.

The segmenter (tools/segment.py) finds the candidates; the extraction agent decides them in
batches sized by --window-tokens (tools/batches.py); the checks in tools/decisions.py say what each
candidate comes to. A candidate the model skipped is asked again in a follow-up batch; one still
undecided after that is decided by the normative-cue rule, and counted. The use-case agent then
tells which rule-bearing sections name a situation; each rule is attached to its section's use
case, or explicitly to all of them.
"""

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from opentelemetry.trace import SpanContext, get_current_span

from synthgen.agents.extraction import ExtractionDeps, extraction_agent, extraction_prompt
from synthgen.agents.use_cases import Heading, UseCaseDeps, unanswered, use_case_agent, use_case_prompt
from synthgen.errors import InputError
from synthgen.orchestrator.observe.tracing import set_attributes
from synthgen.orchestrator.run.items import Item, Rejected, Stage, StageContext, gather_all
from synthgen.schemas.candidates import Candidate, CandidateDecisionRecord
from synthgen.schemas.document import Section, SourceDocument
from synthgen.schemas.drafts import RuleDraft, SituationDraft
from synthgen.schemas.items import Evidence, Policy, UseCase
from synthgen.schemas.manifest import StageReport
from synthgen.schemas.stages import Extraction
from synthgen.tools.batches import candidate_batches
from synthgen.tools.decisions import Decided, check_decisions, decide_unanswered
from synthgen.tools.ids import allocate_ids, normalize_key
from synthgen.tools.parser import document_title
from synthgen.tools.segment import segment

STAGE = "extract"
log = logging.getLogger("synthgen")
_ADVICE = "its candidates are asked again; try a stronger model or a smaller --window-tokens"


class NoRulesError(InputError):
    """A document states no rule: there is nothing to build a dataset from."""


@dataclass(frozen=True)
class BatchOutcome:
    decided: dict[str, Decided]
    missing: list[Candidate]
    report: StageReport
    span: SpanContext | None = None  # the batch span's context, for the merge span's links


def _batch_name(doc: SourceDocument, batch: list[Candidate], again: bool) -> str:
    which = "skipped candidates" if again else "candidates"
    return f"extraction of {doc.path} {which} {batch[0].id}..{batch[-1].id}"


async def _decide_batch(doc: SourceDocument, batch: list[Candidate], stage: Stage, again: bool) -> BatchOutcome:
    """The batch's decisions; a batch the model fails on leaves every candidate missing."""
    name = _batch_name(doc, batch, again)
    lines = f"{batch[0].line_start}-{batch[-1].line_end}"
    item = Item(
        doc.id, "extract batch", f"{len(batch)} candidates, lines {lines}", name,
        {"lines": lines, "candidates": len(batch), "asked_again": again},
    )  # fmt: skip

    async def work() -> BatchOutcome:
        deps = ExtractionDeps(document=doc, candidates=tuple(batch))
        draft = await stage.runner.run(extraction_agent, extraction_prompt(deps), deps, STAGE, name)
        check = check_decisions(batch, draft)
        span = get_current_span()
        rules = sum(len(d.rules) for d in check.decided.values())
        set_attributes(span, rules_found=rules, candidates_missing=len(check.missing))
        return BatchOutcome(
            check.decided, check.missing, StageReport.tally(0, 0, None, check.notes), span.get_span_context()
        )

    result = await stage.run(item, work, advice=_ADVICE)
    if isinstance(result, Rejected):
        return BatchOutcome({}, list(batch), StageReport.tally(1, 0, {result.reason_code: 1}), result.span)
    return result


def _section_of(doc: SourceDocument, line: int) -> Section | None:
    """The innermost section holding `line` (None before the first heading)."""
    holding = [s for s in doc.sections if s.line_start <= line <= s.line_end]
    return holding[-1] if holding else None


def _sections_around(doc: SourceDocument, line: int) -> list[Section]:
    """Every section holding `line`, innermost first."""
    return [s for s in reversed(doc.sections) if s.line_start <= line <= s.line_end]


_NUMBERING = re.compile(r"^\d+(?:\.\d+)*\.?\s+")


def heading_title(doc: SourceDocument, section: Section) -> str:
    """The heading's text as written on its line, without the `#` marks."""
    return doc.line(section.line_start).strip().strip("#").strip()


@dataclass
class _UseCaseDraft:
    key: str  # the section (by heading line) or the whole document
    name: str
    actor: str
    goal: str
    description: str
    evidence: Evidence


def _encloses(outer: Section, inner: Section) -> bool:
    return outer.line_start < inner.line_start <= outer.line_end


def _situations(doc: SourceDocument, headings: list[Section], answer: list[SituationDraft]) -> list[_UseCaseDraft]:
    """The headings the model called situations, but for the document's title: a level-1 heading whose
    section holds another situation names the document, not a situation someone brings to it (its rules
    govern the situations inside it, see _governed_use_cases)."""
    by_number = {entry.n: entry for entry in answer}
    called = [section for number, section in enumerate(headings, 1) if (e := by_number.get(number)) and e.situation]
    drafts = []
    for number, section in enumerate(headings, 1):
        entry = by_number.get(number)
        if entry is None or not entry.situation:
            continue
        if section.level == 1 and any(_encloses(section, other) for other in called):
            continue
        title = heading_title(doc, section)
        name = _NUMBERING.sub("", title) or title
        drafts.append(
            _UseCaseDraft(
                key=str(section.line_start),
                name=name[:100],
                actor=entry.actor.strip() or "user",
                goal=entry.goal.strip() or f"get help with {name.lower()}",
                description=f"Requests handled under the section '{' > '.join(section.heading_path)}'.",
                evidence=Evidence(line_start=section.line_start, line_end=section.line_start, quote=title),
            )
        )
    return drafts


def whole_document_use_case(doc: SourceDocument, first_rule: Candidate) -> _UseCaseDraft:
    """One use case for everything the document governs, grounded on its title (or its first rule)."""
    titled = document_title(doc)
    title = titled[1] if titled else doc.file_name
    evidence = Evidence(line_start=titled[0], line_end=titled[0], quote=titled[1]) if titled else first_rule.evidence
    return _UseCaseDraft(
        key="document",
        name=f"Requests governed by {title}"[:100],
        actor="user",
        goal=f"get help that follows {title}"[:300],
        description="No section of the document names a situation, so the whole document is one use case.",
        evidence=evidence,
    )


async def _use_cases(
    doc: SourceDocument, rules: list[Decided], stage: Stage
) -> tuple[list[_UseCaseDraft], StageReport]:
    """The situations among the sections holding rules; the whole document when none is one."""
    counts: Counter[int] = Counter()
    sections: dict[int, Section] = {}
    for decided in rules:
        section = _section_of(doc, decided.candidate.line_start)
        if section is not None:
            counts[section.line_start] += len(decided.rules)
            sections[section.line_start] = section
    headings = [sections[line] for line in sorted(sections)]
    report = StageReport()
    answer: list[SituationDraft] = []
    if headings:
        deps = UseCaseDeps(doc, tuple(Heading(tuple(s.heading_path), counts[s.line_start]) for s in headings))
        name = f"use cases of {doc.path}"
        item = Item(doc.id, "extract use cases", f"{len(headings)} headings", name, {"headings": len(headings)})

        async def work() -> list[SituationDraft]:
            draft = await stage.runner.run(use_case_agent, use_case_prompt(deps), deps, STAGE, name)
            nonlocal report
            report = StageReport.tally(0, 0, None, {"heading_not_answered": len(unanswered(deps, draft))})
            return draft.headings

        result = await stage.run(item, work, advice="its rules apply to the whole document instead")
        if isinstance(result, Rejected):
            report = StageReport.tally(1, 0, {result.reason_code: 1})
        else:
            answer = result
    drafts = _situations(doc, headings, answer)
    if not drafts:
        drafts = [whole_document_use_case(doc, rules[0].candidate)]
        report += StageReport.tally(0, 0, None, {"document_use_case_added": 1})
    return drafts, report


@dataclass
class _PolicyDraft:
    rule: RuleDraft
    evidence: list[Evidence]
    use_cases: list[str] | None  # use-case keys; None: every use case
    candidates: list[str] = field(default_factory=list)


def _governed_use_cases(doc: SourceDocument, line: int, situation_keys: set[str]) -> list[str] | None:
    """The use cases (by section key) a rule stated on `line` governs: the innermost situation holding
    it and every situation nested in its section; when no situation holds it, the situations nested in
    the innermost section holding it that has any (a policy's preamble governs each section it
    heads); None, every use case, when there are none."""
    for section in _sections_around(doc, line):
        nested = [
            str(s.line_start) for s in doc.sections if str(s.line_start) in situation_keys and _encloses(section, s)
        ]
        own = [str(section.line_start)] if str(section.line_start) in situation_keys else []
        if own or nested:
            return own + nested
    return None


def build_extraction(
    doc: SourceDocument, decisions: list[Decided], use_cases: list[_UseCaseDraft]
) -> tuple[Extraction, StageReport]:
    """Use cases and policies with their IDs, each rule attached to its section's use case or to all,
    one policy per statement; the report counts every rule proposed and every candidate left out."""
    situation_keys = {draft.key for draft in use_cases}
    policies: dict[str, _PolicyDraft] = {}
    reasons: Counter[str] = Counter()
    proposed = 0
    for decided in decisions:
        if not decided.is_rule:
            reasons[f"not_a_rule_{decided.reason}"] += 1
            proposed += 1
            continue
        governed = _governed_use_cases(doc, decided.candidate.line_start, situation_keys)
        for rule in decided.rules:
            proposed += 1
            key = normalize_key(rule.statement)
            kept = policies.get(key)
            if kept is None:
                policies[key] = _PolicyDraft(rule, [decided.candidate.evidence], governed)
            else:
                reasons["duplicate_policy"] += 1
                if decided.candidate.evidence not in kept.evidence:
                    kept.evidence.append(decided.candidate.evidence)
                if kept.use_cases is None or governed is None:
                    kept.use_cases = None  # merging must not narrow a rule that governs every use case
                else:
                    kept.use_cases += [k for k in governed if k not in kept.use_cases]
            policies[key].candidates.append(decided.candidate.id)

    uc_ids = allocate_ids("uc_", [f"{doc.id}|{normalize_key(d.name)}|{d.key}" for d in use_cases])
    uc_by_key = {d.key: uc_id for d, uc_id in zip(use_cases, uc_ids)}
    final_use_cases = [
        UseCase(
            id=uc_id, document_id=doc.id, name=d.name, actor=d.actor, goal=d.goal,
            description=d.description, evidence=[d.evidence],
        )
        for uc_id, d in zip(uc_ids, use_cases)
    ]  # fmt: skip
    pol_keys = [f"{doc.id}|{key}|{d.evidence[0].line_start}-{d.evidence[0].line_end}" for key, d in policies.items()]
    final_policies = []
    policy_of: dict[str, list[str]] = {}
    for pol_id, draft in zip(allocate_ids("pol_", pol_keys), policies.values()):
        every = draft.use_cases is None or set(draft.use_cases) >= situation_keys
        final_policies.append(
            Policy(
                id=pol_id,
                document_id=doc.id,
                statement=draft.rule.statement,
                kind=draft.rule.kind,
                strength=draft.rule.strength,
                conditions=draft.rule.conditions,
                binds=draft.rule.binds,
                applies_to=list(uc_ids) if every else [uc_by_key[k] for k in draft.use_cases or []],
                applies_to_all=every,
                evidence=draft.evidence,
            )
        )
        for candidate_id in draft.candidates:
            policy_of.setdefault(candidate_id, []).append(pol_id)
    records = [
        CandidateDecisionRecord(
            document_id=doc.id,
            candidate=d.candidate,
            is_rule=d.is_rule,
            reason=d.reason,  # type: ignore[arg-type]  # "rule" or a NotRuleReason, by construction
            decided_by=d.decided_by,
            policy_ids=list(dict.fromkeys(policy_of.get(d.candidate.id, []))),
        )
        for d in decisions
    ]
    accepted = len(final_use_cases) + len(final_policies)
    report = StageReport.tally(proposed + len(final_use_cases), accepted, reasons)
    extraction = Extraction(document=doc, use_cases=final_use_cases, policies=final_policies, decisions=records)
    return extraction, report


def _trace_merge(doc: SourceDocument, extraction: Extraction, batches: list[BatchOutcome], stage: Stage) -> None:
    """A span naming the IDs made, linked to each batch's span with the policy IDs its candidates gave."""
    policy_ids = {r.candidate.id: r.policy_ids for r in extraction.decisions}
    links = [
        (b.span, {"item_ids": sorted({p for cid in b.decided for p in policy_ids.get(cid, [])})})
        for b in batches
        if b.span is not None
    ]
    with stage.trace.item(
        STAGE, doc.id, "merge", f"merge: {len(extraction.use_cases)} use cases, {len(extraction.policies)} policies",
        links=links, use_case_ids=[uc.id for uc in extraction.use_cases],
        policy_ids=[p.id for p in extraction.policies],
    ):  # fmt: skip
        pass


async def extract_document(
    doc: SourceDocument, candidates: list[Candidate], window_tokens: int, stage: Stage
) -> tuple[Extraction, StageReport]:
    """The document's candidates decided, then its use cases; NoRulesError when it states no rule."""
    batches = candidate_batches(candidates, window_tokens)
    with stage.trace.stage(STAGE, [doc.id], batches=len(batches), candidates=len(candidates)):
        outcomes = await gather_all(_decide_batch(doc, batch, stage, again=False) for batch in batches)
        missing = [c for outcome in outcomes for c in outcome.missing]
        notes: Counter[str] = Counter(candidate_asked_again=len(missing))
        if missing:  # asked once more, in batches of their own; never dropped
            again = candidate_batches(missing, window_tokens)
            stage.context.progress.expect(STAGE, len(again))
            outcomes += await gather_all(_decide_batch(doc, batch, stage, again=True) for batch in again)
        decided: dict[str, Decided] = {}
        for outcome in outcomes:
            decided.update(outcome.decided)
        for candidate in candidates:
            if candidate.id not in decided:
                decided[candidate.id] = unanswered = decide_unanswered(candidate)
                notes["rule_by_normative_cue" if unanswered.is_rule else "candidate_not_decided"] += 1
        decisions = [decided[c.id] for c in candidates]
        rules = [d for d in decisions if d.is_rule]
        if not rules:
            raise NoRulesError(
                f"no rules found in {doc.path}: none of its {len(candidates)} statements is a rule; give a document "
                "that states how a system must behave (a policy, an acceptable-use policy, an API spec)"
            )
        use_cases, found = await _use_cases(doc, rules, stage)
        extraction, merged = build_extraction(doc, decisions, use_cases)
        _trace_merge(doc, extraction, outcomes, stage)
    reports = sum((outcome.report for outcome in outcomes), StageReport())
    return extraction, reports + found + merged + StageReport.tally(0, 0, None, notes)


async def extract(
    documents: list[SourceDocument], context: StageContext, window_tokens: int
) -> tuple[list[Extraction], StageReport]:
    """Every document's use cases and policies; NoRulesError if a document states no rule."""
    candidates = {doc.id: segment(doc) for doc in documents}
    for doc in documents:
        if not candidates[doc.id]:
            raise NoRulesError(
                f"no rules found in {doc.path}: it has no statement at all (only headings or markup); give a "
                "document that states how a system must behave"
            )
    batches = sum(len(candidate_batches(candidates[doc.id], window_tokens)) for doc in documents)
    log.debug("extract: %d document(s), %d candidate batch(es)", len(documents), batches)
    # Follow-up batches and the use-case calls are not known up front: failures are judged at the end.
    with context.stage(STAGE, batches + len(documents), planned=False) as stage:
        results = await gather_all(extract_document(doc, candidates[doc.id], window_tokens, stage) for doc in documents)
    return [extraction for extraction, _ in results], sum((report for _, report in results), StageReport())
