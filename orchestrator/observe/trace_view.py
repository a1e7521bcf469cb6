"""`synthgen trace RUN_DIR`: the span tree of a run from its trace.jsonl, with durations, tokens and cost.

`--item ID` narrows the tree to one item's history: every span whose synthgen attributes (or
links) mention the ID, the spans above them for context, and the agent and model calls below
the item spans; then the exact prompt and answer of each of those model calls, from calls.jsonl. A test case and its example share their hash, so `tc_X` and `ex_X` show each
other's spans too.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from synthgen.errors import InputError
from synthgen.orchestrator.llm.calls_file import read_calls
from synthgen.orchestrator.llm.costs import usd
from synthgen.orchestrator.observe.call_view import call_lines
from synthgen.orchestrator.observe.tracing import PREFIX, read_spans
from synthgen.schemas.calls import CallRecord
from synthgen.schemas.items import ITEM_ID
from synthgen.schemas.layout import CALLS_FILE, TRACE_FILE
from synthgen.schemas.trace import TraceSpan

_NEVER = datetime.min.replace(tzinfo=UTC)  # sorts a span without a start first
LABEL_WIDTH = 64
NOTE_WIDTH = 160


@dataclass
class SpanNode:
    span: TraceSpan
    children: list["SpanNode"] = field(default_factory=list)
    parent: "SpanNode | None" = None

    @property
    def span_id(self) -> str:
        return self.span.span_id

    @property
    def attributes(self) -> dict[str, Any]:
        return self.span.attributes

    @property
    def start(self) -> datetime:
        return self.span.start or _NEVER

    def walk(self) -> Iterable["SpanNode"]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Totals:
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    calls: int = 0
    priced: int = 0
    replayed: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def cost_text(self) -> str:
        if not self.calls:
            return ""
        if not self.priced:
            return "unpriced"
        return usd(self.cost) + ("+" if self.priced < self.calls else "")


def _is_model_call(node: SpanNode) -> bool:
    return node.attributes.get("gen_ai.operation.name") == "chat" or PREFIX + "call.key" in node.attributes


def _answered(node: SpanNode) -> bool:
    """A model call that got an answer (replayed or live); a refused or failed request has no call key."""
    return _is_model_call(node) and PREFIX + "call.key" in node.attributes


def totals(node: SpanNode, chosen: set[str] | None = None) -> Totals:
    """Tokens and cost of the model calls below `node` (only those in `chosen`, when given)."""
    result = Totals()
    for span in node.walk():
        if not _answered(span) or (chosen is not None and span.span_id not in chosen):
            continue
        attrs = span.attributes
        result.calls += 1
        result.input_tokens += int(attrs.get("gen_ai.usage.input_tokens") or 0)
        result.output_tokens += int(attrs.get("gen_ai.usage.output_tokens") or 0)
        cost = attrs.get(PREFIX + "call.cost_usd")
        if cost is not None:
            result.priced += 1
            result.cost += Decimal(str(cost))
        if attrs.get(PREFIX + "call.replayed"):
            result.replayed += 1
    return result


def read_trace(run_dir: Path) -> list[TraceSpan]:
    path = run_dir / TRACE_FILE
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is not a run directory: give the folder a run wrote, e.g. runs/<run_id>")
    if not path.is_file():
        raise InputError(f"{run_dir} has no {TRACE_FILE}: it is written by `synthgen agent run` as the run goes")
    return read_spans(path)


def build_trees(spans: list[TraceSpan]) -> list[list[SpanNode]]:
    """Roots per trace (one trace per invocation of `synthgen agent run`), oldest trace first."""
    by_trace: dict[str, dict[str, SpanNode]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, {})[span.span_id] = SpanNode(span)
    traces = []
    for nodes in by_trace.values():
        roots = []
        for node in nodes.values():
            parent = nodes.get(node.span.parent_id or "")
            if parent is None:
                roots.append(node)
            else:
                node.parent = parent
                parent.children.append(node)
        for node in nodes.values():
            node.children.sort(key=lambda n: (n.start, n.span_id))
        roots.sort(key=lambda n: (n.start, n.span_id))
        traces.append(roots)
    traces.sort(key=lambda roots: min(n.start for n in roots))
    return traces


# -- item history ---------------------------------------------------------------------------------


def _mentions(values: Iterable[Any], targets: set[str]) -> bool:
    for value in values:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str) and targets.intersection(ITEM_ID.findall(item)):
                return True
    return False


def _synthgen_values(attributes: dict[str, Any]) -> list[Any]:
    return [v for k, v in attributes.items() if k.startswith(PREFIX)]


def known_ids(roots: list[SpanNode]) -> set[str]:
    ids: set[str] = set()
    for root in roots:
        for node in root.walk():
            for value in _synthgen_values(node.attributes):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str):
                        ids.update(ITEM_ID.findall(item))
    return ids


def resolve_item(item: str, roots: list[SpanNode]) -> str:
    """The full ID for an ID or a unique prefix of one (`ex_3c49`)."""
    ids = known_ids(roots)
    if item in ids:
        return item
    matches = sorted(i for i in ids if i.startswith(item))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InputError(f"--item {item} matches {len(matches)} IDs ({', '.join(matches[:5])}, ...): give more of it")
    raise InputError(f"no span of this run mentions {item}: IDs look like uc_…, pol_…, tc_… or ex_…")


def _targets(item: str) -> set[str]:
    targets = {item}
    kind, _, digest = item.partition("_")
    if kind in ("tc", "ex"):  # an example is about its test case and shares its hash
        targets |= {f"tc_{digest}", f"ex_{digest}"}
    return targets


def select(roots: list[SpanNode], item: str) -> set[str]:
    """Span ids in the item's history: matching spans, their ancestors, and below matching item spans."""
    targets = _targets(item)
    nodes = {n.span_id: n for root in roots for n in root.walk()}
    matched = [n for n in nodes.values() if _mentions(_synthgen_values(n.attributes), targets)]
    for node in list(nodes.values()):  # spans linked from a matching span with the item's ID (e.g. merge -> window)
        for link in node.span.links:
            linked = nodes.get(link.span_id)
            if linked is not None and _mentions(_synthgen_values(link.attributes), targets):
                matched.append(linked)
    chosen: set[str] = set()
    for node in matched:
        if node.attributes.get(PREFIX + "kind") == "item":
            chosen.update(n.span_id for n in node.walk())
        chosen.add(node.span_id)
        parent = node.parent
        while parent is not None:
            chosen.add(parent.span_id)
            parent = parent.parent
    return chosen


# -- rendering ------------------------------------------------------------------------------------


def duration(ms: float | None) -> str:
    if ms is None:
        return "?"
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f}s"
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def label(node: SpanNode) -> str:
    attrs = node.attributes
    text = str(attrs.get("logfire.msg") or node.span.name or "?")
    if _answered(node):
        text += " (replayed)" if attrs.get(PREFIX + "call.replayed") else " (live)"
    elif _is_model_call(node):
        text += " (no answer)"
    return text


def note(node: SpanNode, targets: set[str] | None = None) -> str:
    attrs = node.attributes

    def value(name: str) -> Any:
        return attrs.get(PREFIX + name)

    def only(entries: Any) -> list[str]:
        entries = [str(e) for e in (entries or [])]
        if targets:
            entries = [e for e in entries if targets.intersection(ITEM_ID.findall(e))]
        return entries

    parts = []
    if value("outcome"):
        reason = f" ({value('reason_code')})" if value("reason_code") else ""
        parts.append(f"{value('outcome')}{reason}")
    if value("verdicts"):
        parts.append("verdicts " + ", ".join(only(value("verdicts"))))
    if value("gate_failed"):
        failed = only(value("gate_failed"))
        if failed:
            parts.append("gates failed " + ", ".join(failed))
    if value("gate_passed") is not None and targets:
        passed = only(value("gate_passed"))
        if passed:
            parts.append("gates passed")
    if value("rejected"):
        rejected = only(value("rejected"))
        if rejected:
            parts.append("rejected " + ", ".join(rejected))
    if targets and value("accepted") and only(value("accepted")):
        parts.append("accepted")
    if node.span.status == "error":
        # The message once, where it happened; the spans above only say they failed with it.
        if any(c.span.status == "error" for c in node.children):
            parts.append("failed")
        else:
            parts.append("ERROR " + (node.span.error or ""))
    text = "; ".join(parts)
    return text if len(text) <= NOTE_WIDTH else text[: NOTE_WIDTH - 1] + "…"


def render(roots: list[SpanNode], chosen: set[str] | None = None, item: str | None = None) -> list[str]:
    targets = _targets(item) if item else None
    rows: list[tuple[str, str, str, str, str]] = []

    def visit(node: SpanNode, prefix: str, last: bool, top: bool) -> None:
        if chosen is not None and node.span_id not in chosen:
            return
        branch = "" if top else ("└─ " if last else "├─ ")
        text = prefix + branch + label(node)
        if len(text) > LABEL_WIDTH:
            text = text[: LABEL_WIDTH - 1] + "…"
        sums = totals(node, chosen)
        rows.append(
            (text, duration(node.span.duration_ms), f"{sums.tokens:,}" if sums.calls else "",
             sums.cost_text(), note(node, targets))
        )  # fmt: skip
        kids = [c for c in node.children if chosen is None or c.span_id in chosen]
        extension = "" if top else ("   " if last else "│  ")
        for index, child in enumerate(kids):
            visit(child, prefix + extension, index == len(kids) - 1, False)

    for root in roots:
        visit(root, "", True, True)
    if not rows:
        return []
    width = max(len(r[0]) for r in rows)
    header = f"{'span':<{width}}  {'time':>8}  {'tokens':>9}  {'cost':>10}"
    lines = [header]
    for text, took, tokens, cost, extra in rows:
        lines.append(f"{text:<{width}}  {took:>8}  {tokens:>9}  {cost:>10}  {extra}".rstrip())
    return lines


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def describe_trace(roots: list[SpanNode]) -> str:
    spans = sum(1 for root in roots for _ in root.walk())
    started = min(r.start for r in roots)
    sums = Totals()
    for root in roots:
        t = totals(root)
        sums.calls += t.calls
        sums.replayed += t.replayed
        sums.input_tokens += t.input_tokens
        sums.output_tokens += t.output_tokens
        sums.priced += t.priced
        sums.cost += t.cost
    live = Totals()
    for root in roots:
        for node in root.walk():
            if _answered(node) and not node.attributes.get(PREFIX + "call.replayed"):
                live.calls += 1
                cost = node.attributes.get(PREFIX + "call.cost_usd")
                if cost is not None:
                    live.priced += 1
                    live.cost += Decimal(str(cost))
    head = f"trace {roots[0].span.trace_id} · started {_iso(started)} · {spans} spans · {sums.calls} model calls"
    if sums.calls:
        head += f" ({sums.calls - sums.replayed} live, {sums.replayed} replayed) · {sums.tokens:,} tokens · "
        if sums.priced:
            head += f"{sums.cost_text()} at list price, {live.cost_text() or usd(Decimal(0))} spent this run"
        else:
            head += "cost unpriced (no known price for the model)"
    if not any(r.span.parent_id is None and r.span.name == "synthgen run" for r in roots):
        head += " · unfinished: the run stopped before its spans ended"
    return head


def model_calls(roots: list[SpanNode], chosen: set[str], calls: dict[str, CallRecord]) -> list[str]:
    """The prompt and answer of each model call in the history, from calls.jsonl, in the order they were made."""
    spans = sorted(
        (n for root in roots for n in root.walk() if n.span_id in chosen and _answered(n)),
        key=lambda n: (n.start, n.span_id),
    )
    lines = ["", f"model calls, from {CALLS_FILE}: {len(spans)}"]
    for number, node in enumerate(spans, 1):
        key = str(node.attributes[PREFIX + "call.key"])
        record = calls.get(key)
        lines.append("")
        if record is None:
            lines.append(f"── call {number} of {len(spans)} · key {key[:12]} is not in {CALLS_FILE}")
        else:
            lines += call_lines(number, len(spans), record, bool(node.attributes.get(PREFIX + "call.replayed")))
    return lines


def render_run(run_dir: Path, item: str | None = None, every: bool = False) -> str:
    traces = build_trees(read_trace(run_dir))
    if not traces:
        raise InputError(f"{run_dir / TRACE_FILE} holds no spans")
    shown = traces if every else traces[-1:]
    resolved = resolve_item(item, [r for roots in shown for r in roots]) if item else None
    calls = {record.key: record for record in read_calls(run_dir / CALLS_FILE).records} if resolved else {}
    out: list[str] = []
    for roots in shown:
        chosen = select(roots, resolved) if resolved else None
        if chosen is not None and not chosen:
            continue
        if out:
            out.append("")
        out.append(describe_trace(roots))
        if resolved:
            out.append(f"history of {resolved}")
        out.append("")
        out.extend(render(roots, chosen, resolved))
        if resolved and chosen:
            out.extend(model_calls(roots, chosen, calls))
    if len(traces) > len(shown):
        out += ["", f"({len(traces) - len(shown)} earlier invocation(s) of this run in {TRACE_FILE}: --all shows them)"]
    return "\n".join(out)
