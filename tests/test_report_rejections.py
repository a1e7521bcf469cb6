"""Reading what a run rejected back from trace.jsonl spans (orchestrator/report/rejections.py)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from synthgen.orchestrator.observe.tracing import PREFIX
from synthgen.orchestrator.report.rejections import finished_invocation, rejected_items
from synthgen.orchestrator.report.view import Answer, RejectedItem
from synthgen.schemas.trace import TraceSpan

RUN = "rules-0123abcd"
T0 = datetime(2026, 11, 28, tzinfo=UTC)


def span(trace: str, number: int, parent: int | None, name: str, **attributes: Any) -> TraceSpan:
    return TraceSpan(
        trace_id=trace * 32,
        span_id=f"{number:016x}",
        parent_id=None if parent is None else f"{parent:016x}",
        name=name,
        start=T0 + timedelta(seconds=number) + (timedelta(hours=1) if trace == "b" else timedelta()),
        duration_ms=1.0,
        status="ok",
        attributes={k if k.startswith("logfire.") else PREFIX + k: v for k, v in attributes.items()},
    )


def invocation(trace: str, finished: bool) -> list[TraceSpan]:
    totals = {"examples": 1} if finished else {}
    return [
        span(trace, 1, None, "synthgen run", run_id=RUN, **totals),
        span(trace, 2, 1, "document", **{"document.path": "docs/rules.md"}),
        span(trace, 3, 2, "stage extract", stage="extract"),
        span(trace, 4, 3, "extract window", kind="item", stage="extract", outcome="rejected",
             reason_code="model_timeout", **{"logfire.msg": "window lines 1-40"}),
        span(trace, 5, 2, "stage supervise", stage="supervise", rejected=["ex_0123456789: off_policy"]),
    ]  # fmt: skip


def test_only_the_invocation_that_finished_the_run_counts() -> None:
    spans = invocation("a", finished=True) + invocation("b", finished=False)  # a later attempt that stopped
    roots = finished_invocation(spans, RUN)
    assert roots is not None and roots[0].span.trace_id == "a" * 32
    assert finished_invocation(invocation("b", finished=False), RUN) is None
    assert finished_invocation(spans, "another-run") is None


def test_rejected_items_name_stage_reason_and_why_no_answer_is_shown() -> None:
    roots = finished_invocation(invocation("a", finished=True), RUN)
    assert roots is not None
    no_answer = Answer(None, "no answer was recorded: every request for it failed before the model answered")
    assert rejected_items(roots, calls={}) == [
        RejectedItem("extract", "window lines 1-40", "model_timeout", "rules.md", None, no_answer),
        RejectedItem("supervise", "example ex_0123456789", "off_policy", "rules.md", "ex_0123456789", no_answer),
    ]
