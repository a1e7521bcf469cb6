"""`synthgen report` on a large run: build time, file size, first paint and filtering in headless Chromium.

    .venv/bin/python benchmarks/report_render.py [EXAMPLES]

The script first writes a synthetic run directory of EXAMPLES examples (default 1,000) that passes
`synthgen validate`: a 240-rule policy document, its use cases, policies and extraction decisions
(a description per section left out), one test case per example deciding its outcome from 2 or 3
rules, a criterion per deciding rule citing the document's lines, and a manifest with the files'
hashes and the rule coverage. Baselines, measured in the same run:

- building the report (read, validate, render, write) against `validate_run` on the same
  directory, the floor any command that trusts a run pays;
- the report's first contentful paint in Chromium against that of a plain page holding the same
  examples as escaped JSON text (dataset.jsonl in a <pre>), the least a browser must do to show them.

Every browser figure is the best of three fresh pages. Needs Debian's chromium (/usr/bin/chromium).
"""

import random
import re
import shutil
import sys
import tempfile
import time
from html import escape
from pathlib import Path

from synthgen import __version__
from synthgen.orchestrator.report.render import write_report
from synthgen.orchestrator.run.pipeline import input_documents, lineage
from synthgen.orchestrator.run.stages.write import example_id
from synthgen.orchestrator.rundir.directory import json_bytes, jsonl_bytes, output_file
from synthgen.orchestrator.rundir.validate import validate_run
from synthgen.schemas.candidates import Candidate, CandidateDecisionRecord
from synthgen.schemas.items import (
    Axis,
    DatasetExample,
    EvaluationCriterion,
    Evidence,
    ExampleMetadata,
    Message,
    Policy,
    TestCase,
    UseCase,
)
from synthgen.schemas.layout import DATA_FILES, DATASET_FILE, MANIFEST_FILE
from synthgen.schemas.manifest import (
    CallCounts,
    RunConfig,
    RunManifest,
    StageReport,
    TokenUsage,
    VolatileInfo,
)
from synthgen.schemas.stages import Design, ItemIndex
from synthgen.tools.coverage import document_coverage, rule_coverage
from synthgen.tools.ids import allocate_ids
from synthgen.tools.outcomes import decide_outcome, deciding_rule
from synthgen.tools.parser import parse_document

CHROMIUM = "/usr/bin/chromium"
SECTIONS, RULES_PER_SECTION = 12, 20
WORDS = [
    "order",
    "refund",
    "account",
    "shipping",
    "label",
    "carrier",
    "parcel",
    "invoice",
    "receipt",
    "warranty",
    "exchange",
    "voucher",
    "credit",
    "delivery",
    "address",
    "customer",
    "agent",
    "manager",
    "approval",
    "email",
    "phone",
    "address",
    "store",
    "return",
    "window",
    "defect",
    "replacement",
    "courier",
    "tracking",
    "payment",
    "card",
    "bank",
    "transfer",
    "subscription",
    "renewal",
    "cancellation",
    "fee",
    "tax",
]


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def synthetic_run(run_dir: Path, examples: int, seed: int = 7) -> None:
    """A run directory of `examples` examples that passes `synthgen validate`."""
    rng = random.Random(seed)
    lines = ["# Support policy", ""]
    for section in range(SECTIONS):
        lines += [f"## Section {section + 1}", ""]
        lines += [f"This section covers {sentence(rng, 6).lower()}", ""]
        for rule in range(RULES_PER_SECTION):
            verb = "must not" if rule % 4 == 3 else "must"
            lines.append(f"- Agents {verb} {sentence(rng, 8).lower()[:-1]} (rule {section + 1}.{rule + 1}).")
        lines.append("")
    document_path = run_dir.parent / "policy.md"
    document_path.write_text("\n".join(lines) + "\n")
    doc = parse_document(str(document_path), document_path.read_bytes())
    cite = [(n, text.removeprefix("- ")) for n, text in enumerate(doc.lines, 1) if text.startswith("- ")]

    heading_lines = [n for n, text in enumerate(doc.lines, 1) if text.startswith("## ")]
    uc_ids = allocate_ids("uc_", [f"{doc.id}|{n}" for n in heading_lines])
    use_cases = [
        UseCase(
            id=uc,
            document_id=doc.id,
            name=doc.line(n)[3:],
            actor="customer",
            goal=f"help with {doc.line(n)[3:]}",
            description="",
            evidence=[Evidence(line_start=n, line_end=n, quote=doc.line(n)[3:])],
        )
        for uc, n in zip(uc_ids, heading_lines, strict=True)
    ]
    pol_ids = allocate_ids("pol_", [f"{doc.id}|{n}" for n, _ in cite])
    policies = [
        Policy(
            id=pid,
            document_id=doc.id,
            statement=text,
            kind="prohibition" if " must not " in text else "obligation",
            strength="must",
            applies_to=[uc_ids[i // RULES_PER_SECTION]],
            evidence=[Evidence(line_start=n, line_end=n, quote=text)],
        )
        for i, (pid, (n, text)) in enumerate(zip(pol_ids, cite, strict=True))
    ]
    by_id = {p.id: p for p in policies}
    decisions = [
        CandidateDecisionRecord(
            document_id=doc.id,
            candidate=Candidate(
                id=f"cand_{n}_1",
                kind="list_item" if text.startswith("- ") else "sentence",
                line_start=n,
                line_end=n,
                heading_path=[doc.line(max(h for h in heading_lines if h < n))[3:]],
                text=text.removeprefix("- "),
                quote=text.removeprefix("- "),
            ),
            is_rule=text.startswith("- "),
            reason="rule" if text.startswith("- ") else "description",
            decided_by="model",
            policy_ids=[pid for pid, (line, _) in zip(pol_ids, cite, strict=True) if line == n],
        )
        for n, text in enumerate(doc.lines, 1)
        if text and not text.startswith("#")
    ]
    tc_ids = allocate_ids("tc_", [f"{doc.id}|row {row}" for row in range(examples)])
    test_cases, dataset = [], []
    for row, tc_id in enumerate(tc_ids):
        section = row % SECTIONS
        chosen = rng.sample(range(section * RULES_PER_SECTION, (section + 1) * RULES_PER_SECTION), rng.choice((2, 3)))
        mood = rng.choice(("calm", "frustrated", "confused", "in a hurry"))
        deciding = [deciding_rule(policies[i], "triggered") for i in chosen]
        test_case = TestCase(
            id=tc_id,
            document_id=doc.id,
            use_case_id=uc_ids[section],
            policy_ids=[pol_ids[i] for i in chosen],
            axis_values={"customer_mood": mood, "channel": rng.choice(("chat", "email", "phone"))},
            scenario=sentence(rng, 12),
            deciding_rules=deciding,
            expected_outcome=decide_outcome(deciding, by_id),
            must=[f"follow this rule: {policies[i].statement}" for i in chosen if policies[i].kind != "prohibition"],
            must_not=[f"do not: {policies[i].statement}" for i in chosen if policies[i].kind == "prohibition"],
            expected_behaviour=sentence(rng, 10),
        )
        test_cases.append(test_case)
        criteria = [
            EvaluationCriterion(
                criterion=f"The reply applies the rule: {policies[i].statement}",
                policy_id=pol_ids[i],
                evidence=policies[i].evidence,
            )
            for i in chosen
        ]
        dataset.append(
            DatasetExample(
                id=example_id(test_case),
                test_case_id=tc_id,
                messages=[
                    Message(role="system", content="You are a support assistant. Follow the policy exactly."),
                    Message(role="user", content=f"{sentence(rng, 14)} {sentence(rng, 10)} (case {row})"),
                ],
                expected_output=f"{sentence(rng, 18)} {sentence(rng, 16)} {sentence(rng, 12)}",
                evaluation_criteria=criteria,
                metadata=ExampleMetadata(
                    document_id=doc.id,
                    use_case_id=uc_ids[section],
                    policy_ids=test_case.policy_ids,
                    axis_values=test_case.axis_values,
                    expected_outcome=test_case.expected_outcome,
                    revisions=0,
                ),
            )
        )
    contents = dict(
        zip(
            DATA_FILES,
            [
                (json_bytes(use_cases), len(use_cases)),
                (json_bytes(policies), len(policies)),
                (json_bytes(decisions), len(decisions)),
                (json_bytes(test_cases), len(test_cases)),
                (jsonl_bytes(dataset), len(dataset)),
            ],
            strict=True,
        )
    )
    for name, (data, _) in contents.items():
        (run_dir / name).write_bytes(data)
    index = ItemIndex(
        documents={doc.id: doc},
        use_cases={u.id: u for u in use_cases},
        policies={p.id: p for p in policies},
        test_cases={t.id: t for t in test_cases},
    )
    axes = [
        Axis(name=name, values=values, rationale="", policy_ids=[])
        for name, values in (("customer_mood", ["calm", "frustrated", "confused", "in a hurry"]),
                             ("channel", ["chat", "email", "phone"]))
    ]  # fmt: skip
    design = Design(document_id=doc.id, strength=2, axes=axes, test_cases=test_cases, contrast_pairs=[], designed=True)
    usage = TokenUsage(
        requests=examples,
        input_tokens=1500 * examples,
        output_tokens=400 * examples,
        cost_usd=None,
        unpriced_requests=examples,
    )
    manifest = RunManifest(
        run_id="synthetic-benchmark",
        tool_version=__version__,
        inputs=input_documents([doc]),
        config=RunConfig(
            model="function:synthetic",
            seed=seed,
            temperature=0.0,
            max_examples=examples,
            concurrency=4,
            max_revisions=2,
            window_tokens=3000,
            strength=2,
        ),
        prompts=[],
        stages={
            "extract": StageReport.tally(len(use_cases) + len(policies), len(use_cases) + len(policies)),
            "design": StageReport.tally(examples, examples),
            "write": StageReport.tally(examples, examples),
            "supervise": StageReport.tally(examples, examples).model_copy(update={"usage": usage}),
        },
        usage_by_model={"function:synthetic": usage},
        coverage=[document_coverage(design, dataset, len(policies))],
        rule_coverage=rule_coverage(policies, [design], test_cases, dataset),
        outputs=[output_file(name, data, records) for name, (data, records) in contents.items()],
        lineage=lineage(dataset, index),
        volatile=VolatileInfo(
            started_at="2026-11-28T00:00:00+00:00",
            finished_at="2026-11-28T00:10:00+00:00",
            stage_seconds={"write": 600.0},
            calls=CallCounts(live=usage, replayed=TokenUsage()),
        ),
    )
    (run_dir / MANIFEST_FILE).write_bytes(json_bytes(manifest))


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


FILTER = """([policy]) => {
  const select = document.getElementById("f-pol");
  const started = performance.now();
  select.value = policy;
  select.dispatchEvent(new Event("change", {bubbles: true}));
  document.body.offsetHeight;  // the layout the filter causes
  const filtered = performance.now() - started;
  const shown = document.querySelectorAll("article.example:not([hidden])").length;
  const again = performance.now();
  select.value = "";
  select.dispatchEvent(new Event("change", {bubbles: true}));
  document.body.offsetHeight;
  return [filtered, performance.now() - again, shown];
}"""


def paint(browser, path: Path, policy: str | None = None) -> tuple[float, list[float]]:
    """First contentful paint (ms) of a fresh page, and the filter's timings when a policy is given."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(path.as_uri(), wait_until="load")
    fcp = page.evaluate(
        "new Promise(done => new PerformanceObserver((list, observer) => {"
        "  const entry = list.getEntries().find(e => e.name === 'first-contentful-paint');"
        "  if (entry) { observer.disconnect(); done(entry.startTime); }"
        "}).observe({type: 'paint', buffered: true}))"
    )
    filtered = page.evaluate(FILTER, [policy]) if policy else []
    page.close()
    return fcp, filtered


def main(examples: int) -> None:
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="synthgen-report-bench-"))
    try:
        run_dir = root / "run"
        run_dir.mkdir()
        synthetic_run(run_dir, examples)
        assert validate_run(run_dir) == [], "the synthetic run must validate"
        validate = best_of(3, lambda: validate_run(run_dir))
        report = run_dir / "report.html"
        build = best_of(3, lambda: write_report(run_dir, report, force=True))
        plain = root / "plain.html"
        plain.write_text(
            f"<!doctype html><meta charset=utf-8><pre>{escape((run_dir / DATASET_FILE).read_text())}</pre>"
        )
        policy = re.search(r'data-show-policy="(pol_[0-9a-f]+)"', report.read_text()).group(1)

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            report_paints = [paint(browser, report, policy) for _ in range(3)]
            plain_paints = [paint(browser, plain)[0] for _ in range(3)]
            browser.close()
        fcp = min(p[0] for p in report_paints)
        filtered = min(p[1][0] for p in report_paints)
        cleared = min(p[1][1] for p in report_paints)
        shown = report_paints[0][1][2]
        plain_fcp = min(plain_paints)
        size, plain_size = report.stat().st_size, plain.stat().st_size
        print(f"synthetic run: {examples:,} examples, {SECTIONS * RULES_PER_SECTION} policies, one document")
        print(f"build     {build:6.2f} s   validate alone {validate:6.2f} s   ratio {build / validate:4.2f}x")
        print(
            f"size      {size / 1e6:6.2f} MB  plain page     {plain_size / 1e6:6.2f} MB  ratio {size / plain_size:4.2f}x"
        )
        print(
            f"paint     {fcp:6.0f} ms  plain page     {plain_fcp:6.0f} ms  ratio {fcp / plain_fcp:4.2f}x"
            "   (first contentful paint, headless Chromium)"
        )
        print(
            f"filter    {filtered:6.1f} ms to show the {shown} examples of one policy, {cleared:.1f} ms to show all again"
        )
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
