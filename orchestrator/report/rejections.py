"""What a run rejected, read back from trace.jsonl, with the model's last answer from calls.jsonl.

Rejections are recorded in two places (orchestrator/run): an item the model failed on after every
retry (a window, a design, an example, a review, a revision) has `outcome = rejected` and its
`reason_code` on its own span (run/items.py); an example the supervise stage turned down (a gate,
the supervisor's verdict, revisions exhausted) is listed as "ex_...: reason_code" in the
`rejected` attribute of its document's supervise stage span (run/stages/supervise.py). Only the
invocation that wrote the run's files counts: its root span carries the run's totals.
"""

from collections.abc import Iterable
from pathlib import PurePath

from synthgen.orchestrator.llm.calls_file import RESPONSE
from synthgen.orchestrator.observe.call_view import answer_lines
from synthgen.orchestrator.observe.trace_view import SpanNode, build_trees
from synthgen.orchestrator.observe.tracing import PREFIX
from synthgen.orchestrator.report.view import Answer, RejectedItem
from synthgen.schemas.calls import CallRecord
from synthgen.schemas.trace import TraceSpan

SUPERVISE = "supervise"


def finished_invocation(spans: list[TraceSpan], run_id: str) -> list[SpanNode] | None:
    """The span trees of the last invocation that finished this run (wrote its files), if any."""
    for roots in reversed(build_trees(spans)):
        for root in roots:
            attributes = root.attributes
            if attributes.get(PREFIX + "run_id") == run_id and PREFIX + "examples" in attributes:
                return roots
    return None


def _document(node: SpanNode) -> str:
    """The file name of the document span above `node`."""
    current: SpanNode | None = node
    while current is not None:
        path = current.attributes.get(PREFIX + "document.path")
        if path:
            return PurePath(str(path)).name
        current = current.parent
    return ""


def _answered(nodes: Iterable[SpanNode]) -> list[SpanNode]:
    """The model calls below `nodes` that got an answer (it has a key in calls.jsonl), oldest first."""
    found = [n for node in nodes for n in node.walk() if PREFIX + "call.key" in n.attributes]
    return sorted(found, key=lambda n: (n.start, n.span_id))


def last_answer(items: list[SpanNode], calls: dict[str, CallRecord]) -> Answer:
    """The model's last answer under the item spans, as `synthgen trace --item` prints an answer."""
    answered = _answered(items)
    if not answered:
        return Answer(None, "no answer was recorded: every request for it failed before the model answered")
    key = str(answered[-1].attributes[PREFIX + "call.key"])
    record = calls.get(key)
    if record is None:
        return Answer(None, f"its answer (key {key[:12]}) is not in calls.jsonl")
    lines = answer_lines(RESPONSE.validate_python(record.response))
    return Answer("\n".join(line.removeprefix("  ") for line in lines))


def rejected_items(roots: list[SpanNode], calls: dict[str, CallRecord]) -> list[RejectedItem]:
    """Every item the invocation rejected, in the order it ran; an example once, with its last answer."""
    nodes = sorted((n for root in roots for n in root.walk()), key=lambda n: (n.start, n.span_id))
    written: dict[str, list[SpanNode]] = {}  # example id -> its write and revise spans
    for node in nodes:
        example = node.attributes.get(PREFIX + "example_id")
        if node.attributes.get(PREFIX + "kind") == "item" and isinstance(example, str):
            written.setdefault(example, []).append(node)
    items: dict[str, RejectedItem] = {}
    for node in nodes:
        attributes = node.attributes
        stage = str(attributes.get(PREFIX + "stage", ""))
        if attributes.get(PREFIX + "kind") == "item" and attributes.get(PREFIX + "outcome") == "rejected":
            example = attributes.get(PREFIX + "example_id")
            example = example if isinstance(example, str) else None
            items[example or node.span_id] = RejectedItem(
                stage=stage,
                label=str(attributes.get("logfire.msg", node.span.name)),
                reason_code=str(attributes.get(PREFIX + "reason_code", "")),
                document=_document(node),
                example_id=example,
                answer=last_answer(written.get(example, [node]) if example else [node], calls),
            )
        elif stage == SUPERVISE and isinstance(attributes.get(PREFIX + "rejected"), list):
            for entry in attributes[PREFIX + "rejected"]:
                example, _, reason = str(entry).partition(": ")
                # A failed revision is also listed by its own span: either way, one entry per example.
                items.setdefault(
                    example,
                    RejectedItem(
                        stage=SUPERVISE,
                        label=f"example {example}",
                        reason_code=reason,
                        document=_document(node),
                        example_id=example,
                        answer=last_answer(written.get(example, []), calls),
                    ),
                )
    return list(items.values())
