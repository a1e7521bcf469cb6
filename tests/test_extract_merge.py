"""Merging window answers into one document's use cases and policies."""

import pytest

from synthgen.errors import GateError
from synthgen.orchestrator.run.stages.extract import merge_drafts
from synthgen.schemas.drafts import ExtractionDraft, PolicyDraft
from synthgen.tools.evidence import check_evidence
from synthgen.tools.parser import parse_document

RULES = b"""---
title: Example acceptable use
---
## Conduct

You must not post spam.
"""


def _rules_only() -> ExtractionDraft:
    spam = PolicyDraft.model_validate(
        {
            "statement": "Users must not post spam.",
            "kind": "prohibition",
            "applies_to": ["Posting"],
            "evidence": [{"line_start": 6, "line_end": 6, "quote": "You must not post spam."}],
        }
    )
    return ExtractionDraft(use_cases=[], policies=[spam])


def test_rules_without_use_cases_make_the_whole_document_one_use_case_quoted_from_its_title() -> None:
    doc = parse_document("aup.md", RULES)
    extraction, report = merge_drafts(doc, [_rules_only()])

    (use_case,) = extraction.use_cases
    assert use_case.name == "Requests governed by Example acceptable use"
    assert [(e.line_start, e.quote) for e in use_case.evidence] == [(2, "Example acceptable use")]
    assert all(check_evidence(doc, e).ok for e in use_case.evidence)
    assert extraction.policies[0].applies_to == [use_case.id]
    assert report.notes == {"document_use_case_added": 1}
    # The merge requests the use case it adds (the window's report counts the policy) and accepts both.
    assert (report.requested, report.accepted, report.rejected) == (1, 2, 0)


def test_rules_without_use_cases_or_a_title_still_fail_loudly() -> None:
    doc = parse_document("aup.md", b"Conduct rules, no heading.\n\n\n\n\nYou must not post spam.\n")
    with pytest.raises(GateError, match="extraction found 0 use cases and 1 policies"):
        merge_drafts(doc, [_rules_only()])
