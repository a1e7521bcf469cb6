"""Candidate statements: the units of a document the extraction model decides on, one by one."""

from typing import Literal

from pydantic import Field

from synthgen.schemas.base import StrictModel
from synthgen.schemas.document import DOCUMENT_ID
from synthgen.schemas.items import Evidence

CandidateKind = Literal["sentence", "list_item", "table_row", "code"]


class Candidate(StrictModel):
    """A sentence, a list item's sentence, a table row or a code block, with the context to read it alone.

    `quote` is the document's own characters from the first to the last of the statement, so
    `evidence` verifies by construction; `text` is what a reader sees: the same words without the
    list markers or `>` of the lines it continues on, whitespace collapsed (a code block keeps its lines).
    """

    id: str = Field(
        pattern=r"^cand_[0-9]+_[0-9]+$",
        description="cand_<first line>_<n>: the n-th candidate starting on that line; stable for the same bytes.",
    )
    kind: CandidateKind
    line_start: int = Field(ge=1)
    line_end: int = Field(ge=1)
    heading_path: list[str] = Field(description="Headings of the section holding the statement, top level first.")
    text: str = Field(min_length=1)
    quote: str = Field(min_length=1, description="Verbatim text of the cited lines, from the first to the last char.")
    lead_in: list[str] = Field(
        default_factory=list,
        description="For a list item: the sentence introducing each enclosing list, outermost first "
        "(a nested list's lead-in is its parent item); for a code block, the sentence before it too.",
    )
    header: str | None = Field(default=None, description="For a table row: the table's header row.")

    @property
    def evidence(self) -> Evidence:
        return Evidence(line_start=self.line_start, line_end=self.line_end, quote=self.quote)


NotRuleReason = Literal["heading", "example", "rationale", "definition_only", "description", "other", "not_decided"]
DecidedBy = Literal["model", "normative_cue", "plain_list", "no_answer"]


class CandidateDecisionRecord(StrictModel):
    """What became of one candidate: the run's decisions file, so a reviewer can audit what was left out.

    `decided_by` says who decided: the model; the normative-cue rule (the model called a candidate
    with a strong cue such as "must not" no rule twice, so it became a rule in its own words); or
    nobody (the model never answered for it, even when asked again, and it has no cue).
    """

    document_id: str = Field(pattern=DOCUMENT_ID)
    candidate: Candidate
    is_rule: bool
    reason: Literal["rule"] | NotRuleReason
    decided_by: DecidedBy
    policy_ids: list[str] = Field(default_factory=list, description="The policies the candidate became (rules only).")

    @property
    def id(self) -> str:
        """Unique within a run (candidate ids are unique within their document): for the duplicate check."""
        return f"{self.document_id}/{self.candidate.id}"
