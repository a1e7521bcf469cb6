"""The state of a run in progress, from its documents' workflow statuses: the progress line and `synthgen status`."""

from types import SimpleNamespace
from typing import Any

from synthgen.orchestrator.run.durable import EXAMPLES_WORKFLOW, PLAN_WORKFLOW, workflow_id
from synthgen.orchestrator.run.status import RunState, run_state
from synthgen.schemas.durable import DocumentExamples


def _workflow(phase: str, document: str, status: str, created: float, **more: Any) -> SimpleNamespace:
    name = PLAN_WORKFLOW if phase == "plan" else EXAMPLES_WORKFLOW
    fields = {"error": None, "output": None, **more}
    return SimpleNamespace(workflow_id=workflow_id("run-1", phase, document), name=name, status=status,
                           created_at=created * 1000, **fields)  # fmt: skip


def test_each_document_counts_once_by_its_latest_workflow() -> None:
    written = DocumentExamples.model_construct(examples=[object()] * 3)
    workflows = [
        _workflow("plan", "doc_a", "SUCCESS", 100),
        _workflow("examples", "doc_a", "SUCCESS", 110, output=written),  # done, 3 examples
        _workflow("plan", "doc_b", "PENDING", 101),  # planning, in some process
        _workflow("plan", "doc_c", "SUCCESS", 102),  # planned: waits for the others' plans
        _workflow("plan", "doc_d", "ERROR", 103, error="no rules found in d.md: it states no rule\nmore"),
        _workflow("examples", "doc_e", "ENQUEUED", 104),  # waits for a free slot
    ]
    state = run_state(["doc_a", "doc_b", "doc_c", "doc_d", "doc_e", "doc_f"], workflows)  # type: ignore[arg-type]
    assert (state.done, state.in_flight, state.queued, state.examples) == (1, 1, 3, 3)
    assert state.failed == {"doc_d": "no rules found in d.md: it states no rule"}
    assert state.started == 100
    assert state.finished_units == 4  # a, a, c and d's workflows ended


def test_the_progress_line_and_its_eta() -> None:
    state = RunState(documents=4, done=1, in_flight=2, queued=1, examples=7, started=100.0, finished_units=3)
    # 3 of 8 workflows (two per document) ended in 30 s: 5 left at that pace take 50 s.
    assert state.line(12_345, "$0.0100 spent", now=130.0) == (
        "documents 1/4 done, 2 in flight, 1 queued, 0 failed · 7 examples · 12,345 tokens · $0.0100 spent · ETA 50s"
    )
    assert RunState(documents=2).line(0, "$0.0000 spent") == (
        "documents 0/2 done, 0 in flight, 0 queued, 0 failed · 0 examples · 0 tokens · $0.0000 spent"
    )
