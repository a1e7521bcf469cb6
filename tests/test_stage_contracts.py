"""What stages hand each other survives JSON: a stage can run in another process and return it."""

from agent_scripts import DOCUMENT, RECEIPT, REFUND, TEST_CASE, WINDOW_30

from synthgen.schemas.candidates import Candidate, CandidateDecisionRecord
from synthgen.schemas.items import Axis
from synthgen.schemas.manifest import StageReport
from synthgen.schemas.outcomes import ContrastPair, ValueRule
from synthgen.schemas.stages import Design, Extraction, ItemIndex


def test_stage_results_round_trip_through_json() -> None:
    heading = Candidate(id="cand_1_1", kind="sentence", line_start=1, line_end=1, heading_path=[], text="Refunds",
                        quote="Refunds")  # fmt: skip
    decision = CandidateDecisionRecord(document_id=DOCUMENT.id, candidate=heading, is_rule=False, reason="heading",
                                       decided_by="model")  # fmt: skip
    extraction = Extraction(document=DOCUMENT, use_cases=[REFUND], policies=[WINDOW_30, RECEIPT], decisions=[decision])
    axis = Axis(name="receipt", values=["with", "without"], rationale="", policy_ids=[RECEIPT.id],
                rules=[ValueRule(value="with", policy_id=RECEIPT.id, status="triggered"),
                       ValueRule(value="without", policy_id=RECEIPT.id, status="inapplicable")])  # fmt: skip
    pair = ContrastPair(policy_id=RECEIPT.id, axis="receipt", test_case_ids=[TEST_CASE.id, "tc_9876543210"])
    design = Design(document_id=DOCUMENT.id, strength=2, axes=[axis], test_cases=[TEST_CASE], contrast_pairs=[pair],
                    designed=True)  # fmt: skip
    index = ItemIndex(documents={DOCUMENT.id: DOCUMENT}, use_cases={REFUND.id: REFUND},
                      policies={WINDOW_30.id: WINDOW_30, RECEIPT.id: RECEIPT}, test_cases={TEST_CASE.id: TEST_CASE})  # fmt: skip
    report = StageReport.tally(5, 3, {"duplicate_policy": 1, "ungrounded_item": 1}, {"evidence_relocated": 2})
    for value in (extraction, design, index, report):
        assert type(value).model_validate_json(value.model_dump_json()) == value


def test_reports_add_up_item_by_item() -> None:
    window = StageReport.tally(3, 0, {"ungrounded_item": 1}, {"evidence_relocated": 1, "quote_trimmed": 0})
    merge = StageReport.tally(1, 3, {"duplicate_policy": 1}, {"document_use_case_added": 1})
    total = window + merge
    assert (total.requested, total.accepted, total.rejected) == (4, 3, 2)
    assert total.reasons == {"ungrounded_item": 1, "duplicate_policy": 1}
    assert total.notes == {"evidence_relocated": 1, "document_use_case_added": 1}  # zero counts are left out
