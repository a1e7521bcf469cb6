"""The report in a real browser: Debian's chromium driven by Playwright, the page opened from disk.

`playwright install` cannot fetch browsers here, so the tests drive the system chromium (.ci/run
installs it). Without it they are skipped with the reason; under CI=true they fail instead.
"""

import contextlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_runs import hostile_run, reject_first, replayed_cassette_run, scripted_run
from scripted_model import install_model
from typer.testing import CliRunner

from synthgen.orchestrator.cli.app import app
from synthgen.schemas.layout import DATASET_FILE, MANIFEST_FILE, REPORT_FILE
from synthgen.testing.scripted import ScriptedModel

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Where test_a_reviewer_finds_the_cited_lines saves its screenshot, when set.
SCREENSHOT = os.environ.get("SYNTHGEN_REPORT_SCREENSHOT")
runner = CliRunner()


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = replayed_cassette_run(tmp_path_factory.mktemp("replayed") / "run")
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.stderr
    return run


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as monkeypatch:
        install_model(monkeypatch, ScriptedModel(decide=reject_first()))
        return hostile_run(tmp_path_factory.mktemp("hostile")) / REPORT_FILE


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser's path, checked before any run is made for it."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        _missing(f"playwright cannot be imported ({err}): pip install -r requirements-dev.lock")
    if not Path(CHROMIUM).is_file():
        _missing(f"no chromium at {CHROMIUM}: apt-get install -y chromium (as .ci/run does)")
    return CHROMIUM


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = scripted_run(tmp_path_factory.mktemp("scripted") / "run")
    assert (run / REPORT_FILE).is_file()  # `agent run` wrote it
    return run


# Every run the module's tests open: made before the browser starts.
RUNS = ("replayed", "hostile", "scripted")


@pytest.fixture(scope="module")
def browser(chromium: str, request: pytest.FixtureRequest) -> Iterator[object]:
    """Made after the runs: Playwright's sync API keeps an event loop running, and a run needs its own.
    A run that fails is an error of the tests that open it (pytest keeps the failure), not of the others."""
    from playwright.sync_api import sync_playwright

    for run in RUNS:
        with contextlib.suppress(Exception):
            request.getfixturevalue(run)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()


def open_report(browser, path: Path, width: int = 1400, javascript: bool = True):
    """A page showing the report, and the URLs it asked for besides its own file."""
    context = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=javascript)
    page = context.new_page()
    fetched: list[str] = []
    page.on("request", lambda request: request.url != path.as_uri() and fetched.append(request.url))
    page.goto(path.as_uri())
    return page, fetched


def visible_ids(page) -> list[str]:
    return page.locator("article.example:visible").evaluate_all("cards => cards.map(card => card.id)")


def test_counts_shown_are_the_manifests(browser, replayed: Path) -> None:
    page, fetched = open_report(browser, replayed / REPORT_FILE)
    manifest = json.loads((replayed / MANIFEST_FILE).read_text())
    for name, stage in manifest["stages"].items():
        row = page.locator(f'tr[data-stage="{name}"]')
        shown = {
            key: int(row.locator(f'[data-count="{key}"]').inner_text()) for key in ("requested", "accepted", "rejected")
        }
        assert shown == {key: stage[key] for key in shown}, name
    examples = (replayed / DATASET_FILE).read_text().splitlines()
    assert int(page.locator("#count-accepted").inner_text()) == len(examples)
    assert page.locator("article.example.accepted").count() == len(examples)
    # Every example a stage turned down: the writer's gates (write) and the review (supervise).
    turned_down = manifest["stages"]["write"]["rejected"] + manifest["stages"]["supervise"]["rejected"]
    assert page.locator("article.example.rejected").count() == turned_down
    assert fetched == []  # nothing from the network, nothing from disk but the page itself


def test_a_reviewer_finds_the_cited_lines(browser, replayed: Path, tmp_path: Path) -> None:
    page, _ = open_report(browser, replayed / REPORT_FILE)
    example = json.loads((replayed / DATASET_FILE).read_text().splitlines()[0])
    criterion = example["evaluation_criteria"][-1]
    cited = criterion["evidence"][0]
    link = (
        page.locator(f"#{example['id']} .criteria > li")
        .nth(len(example["evaluation_criteria"]) - 1)
        .locator("a.ev")
        .first
    )
    assert link.get_attribute("data-from") == str(cited["line_start"])
    link.click()
    highlighted = page.locator(".line.hl").evaluate_all("lines => lines.map(line => line.id)")
    document = example["metadata"]["document_id"]
    assert highlighted == [f"{document}-L{n}" for n in range(cited["line_start"], cited["line_end"] + 1)]
    first = page.locator(".line.hl").first
    assert first.is_visible() and first.evaluate(
        "line => { const r = line.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    )
    assert cited["quote"].split()[0] in " ".join(page.locator(".line.hl .src").all_inner_texts())
    assert page.locator("#cited").inner_text().startswith("Highlighted: " + link.inner_text())
    # Another criterion's evidence replaces the highlight: exactly its lines, none of the earlier ones.
    other = page.locator("a.ev").first
    other.click()
    start, end = int(other.get_attribute("data-from")), int(other.get_attribute("data-to"))
    doc = other.get_attribute("data-doc")
    assert page.locator(".line.hl").evaluate_all("l => l.map(x => x.id)") == [
        f"{doc}-L{n}" for n in range(start, end + 1)
    ]
    shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "report.png"
    link.click()
    page.evaluate("scrollTo(0, 0)")  # the run's header and stages beside the highlighted source
    page.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000


def test_filters_narrow_the_examples(browser, replayed: Path) -> None:
    page, _ = open_report(browser, replayed / REPORT_FILE)
    everything = visible_ids(page)
    page.select_option("#f-status", "rejected")
    rejected = visible_ids(page)
    assert rejected and set(rejected) == set(
        page.locator("article.example.rejected").evaluate_all("c => c.map(x => x.id)")
    )
    assert page.locator("#shown").inner_text() == f"{len(rejected)} of {len(everything)} shown"
    page.select_option("#f-status", "")
    policy = json.loads((replayed / "policies.json").read_text())[0]["id"]
    page.select_option("#f-pol", policy)
    about = page.locator("article.example:visible").evaluate_all("c => c.map(x => x.dataset.pol)")
    assert about and all(policy in pols.split() for pols in about)
    hidden = set(everything) - set(visible_ids(page))
    for card in hidden:
        assert policy not in page.locator(f"#{card}").get_attribute("data-pol").split()


def test_keyboard_reaches_and_follows_evidence(browser, replayed: Path) -> None:
    page, _ = open_report(browser, replayed / REPORT_FILE)
    for _ in range(200):  # Tab through the page until an evidence link has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('a.ev')"):
            break
    else:
        pytest.fail("no evidence link is reachable with Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # focus is visible
    page.keyboard.press("Enter")
    focused = page.evaluate("[document.activeElement.dataset.from, document.activeElement.dataset.to]")
    assert page.locator(".line.hl").count() == int(focused[1]) - int(focused[0]) + 1


def test_readable_without_javascript_and_in_a_narrow_window(browser, replayed: Path) -> None:
    from playwright.sync_api import expect

    page, _ = open_report(browser, replayed / REPORT_FILE, width=380, javascript=False)
    assert page.locator("article.example").count() == len(visible_ids(page)) > 0  # nothing is hidden
    assert not page.locator("#filters").is_visible()  # the filters need the script, so they only appear with it
    example = json.loads((replayed / DATASET_FILE).read_text().splitlines()[0])
    card = page.locator(f"#{example['id']}")
    card.scroll_into_view_if_needed()  # a card far below is rendered (content-visibility) once the reader gets there
    expect(card).to_contain_text(example["expected_output"][:40], use_inner_text=True)
    link = page.locator("a.ev").first
    link.click()  # a plain link: the browser jumps to the first cited line
    target = f"{link.get_attribute('data-doc')}-L{link.get_attribute('data-from')}"
    assert page.evaluate("location.hash") == f"#{target}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 380  # no sideways scrolling of the page


def test_script_in_the_document_or_the_answers_never_runs(browser, hostile: Path) -> None:
    page, _ = open_report(browser, hostile)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.reload()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img").count() == 0
    assert '<script>window.__pwned = "rule"</script>' in page.locator("aside").inner_text()
    assert page.locator("article.example.accepted .expected", has_text="<script>").count() > 0
    page.locator("article.example.rejected details summary").first.click()
    assert "<script>" in page.locator("article.example.rejected pre").first.inner_text()
    assert page.evaluate("typeof window.__pwned") == "undefined" and errors == []


def test_the_outcome_filter_shows_the_examples_of_that_outcome(browser, scripted: Path) -> None:
    page, _ = open_report(browser, scripted / REPORT_FILE)
    test_cases = json.loads((scripted / "test_cases.json").read_text())
    examples = [json.loads(line) for line in (scripted / DATASET_FILE).read_text().splitlines()]
    # With no --max-examples every test case was written: the ones not in the dataset were rejected.
    written = {example["test_case_id"]: example["metadata"]["expected_outcome"] for example in examples}
    outcome_of = {tc["id"]: written.get(tc["id"], tc["expected_outcome"]) for tc in test_cases}
    assert page.locator("article.example").count() == len(test_cases)
    outcome, n = Counter(outcome_of.values()).most_common(1)[0]
    page.select_option("#f-outcome", outcome)
    assert page.locator("#shown").inner_text() == f"{n} of {len(test_cases)} shown"
    assert sorted(visible_ids(page)) == sorted(
        "ex_" + tc.removeprefix("tc_") for tc, o in outcome_of.items() if o == outcome
    )
    # A count of the rule matrix shows exactly the written examples it counts.
    cell = page.locator("#coverage a[data-show-outcome]").first
    cell.click()
    policy, chosen = cell.get_attribute("data-show-policy"), cell.get_attribute("data-show-outcome")
    counted = [e["id"] for e in examples if e["metadata"]["expected_outcome"] == chosen
               and policy in next(tc for tc in test_cases if tc["id"] == e["test_case_id"])["policy_ids"]]  # fmt: skip
    assert int(cell.inner_text()) == len(counted)
    assert visible_ids(page) == counted
    assert page.locator("#shown").inner_text() == f"{len(counted)} of {len(test_cases)} shown"


def test_a_rule_of_the_matrix_highlights_its_lines(browser, scripted: Path) -> None:
    page, _ = open_report(browser, scripted / REPORT_FILE)
    policies = json.loads((scripted / "policies.json").read_text())
    for policy in (policies[0], policies[-1]):
        page.locator(f'#coverage tr[data-rule="{policy["id"]}"] td.rule').click()
        lines = sorted({n for e in policy["evidence"] for n in range(e["line_start"], e["line_end"] + 1)})
        highlighted = page.locator(".line.hl").evaluate_all("lines => lines.map(line => line.id)")
        assert highlighted == [f"{policy['document_id']}-L{n}" for n in lines]
        assert page.locator("#cited").inner_text().endswith(f"Back to {policy['id']}")
    # By keyboard: the rule's id is a link, and Enter on it does the same.
    first = policies[0]
    page.locator(f'#coverage tr[data-rule="{first["id"]}"] a.rule-lines').focus()
    page.keyboard.press("Enter")
    assert page.locator(".line.hl").evaluate_all("l => l.map(x => x.id)") == [
        f"{first['document_id']}-L{n}" for e in first["evidence"] for n in range(e["line_start"], e["line_end"] + 1)
    ]
