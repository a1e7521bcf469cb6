"""Many documents in one run: directories and globs, one dataset, durable per-document workflows."""

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from dbos import DBOS, DBOSClient
from typer.testing import CliRunner

from synthgen.orchestrator.cli.app import app
from synthgen.orchestrator.run.durable import PLAN_WORKFLOW, QUEUE
from synthgen.orchestrator.rundir.sources import expand_sources
from synthgen.testing.scripted import ScriptedModel

runner = CliRunner()
DATA_FILES = ["use_cases.json", "policies.json", "test_cases.json", "dataset.jsonl"]
CORPUS = ["tau2_retail_policy.md", "github_acceptable_use.md", "contoso_product_info_1.md"]


def _library(corpus_dir: Path, root: Path) -> list[Path]:
    """Three corpus documents in a nested library, plus files a directory argument must skip."""
    places = [root / "retail" / CORPUS[0], root / CORPUS[1], root / "retail" / "eu" / CORPUS[2]]
    for place, name in zip(places, CORPUS):
        place.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus_dir / name, place)
    (root / "README.txt").write_text("not a document\n")
    (root / ".drafts").mkdir()
    (root / ".drafts" / "draft.md").write_text("# Hidden\n\nYou must skip this.\n")
    return sorted(places)


def test_a_directory_is_its_markdown_files_recursively_sorted(corpus_dir: Path, tmp_path: Path) -> None:
    places = _library(corpus_dir, tmp_path / "library")
    assert expand_sources([tmp_path / "library"]) == places
    # A glob, a file named twice and a directory: each document once, in argument order.
    again = expand_sources([Path(f"{tmp_path}/library/retail/**/*.md"), places[0], tmp_path / "library"])
    assert again == [tmp_path / "library/retail/eu" / CORPUS[2], tmp_path / "library/retail" / CORPUS[0], places[0]]


def test_a_directory_of_documents_is_one_dataset(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    places = _library(corpus_dir, tmp_path / "library")
    out = tmp_path / "run"
    command = ["agent", "run", str(tmp_path / "library"), "--out", str(out), "--max-examples", "9", "--json"]
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.stderr

    manifest = json.loads((out / "manifest.json").read_text())
    assert [doc["path"] for doc in manifest["inputs"]] == [str(p) for p in places]
    document_ids = {doc["id"] for doc in manifest["inputs"]}
    examples = [json.loads(line) for line in (out / "dataset.jsonl").read_text().splitlines()]
    assert len(examples) == 9
    assert len({e["id"] for e in examples}) == 9
    # --max-examples picks over every document's test cases at once (the cases that cover the most rules first).
    by_document = {e["metadata"]["document_id"] for e in examples}
    assert len(by_document) > 1 and by_document <= document_ids
    lineage = {entry["example_id"]: entry["document_id"] for entry in manifest["lineage"]}
    assert lineage == {e["id"]: e["metadata"]["document_id"] for e in examples}
    use_cases = json.loads((out / "use_cases.json").read_text())
    policies = json.loads((out / "policies.json").read_text())
    assert {u["document_id"] for u in use_cases} == document_ids == {p["document_id"] for p in policies}
    assert len({u["id"] for u in use_cases}) == len(use_cases)
    assert len({p["id"] for p in policies}) == len(policies)
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0

    # The same command again: a finished run has left the workflow database, so it replays every call
    # from calls.jsonl; no model call is made and the dataset is the same, byte for byte.
    made = len(scripted.requests)
    before = {name: (out / name).read_bytes() for name in DATA_FILES}
    again = runner.invoke(app, command)
    assert again.exit_code == 0, again.stderr
    assert len(scripted.requests) == made
    assert {name: (out / name).read_bytes() for name in DATA_FILES} == before
    resumed = json.loads((out / "manifest.json").read_text())
    assert resumed["volatile"]["calls"]["live"]["requests"] == 0
    assert resumed["volatile"]["calls"]["replayed"]["requests"] == manifest["volatile"]["calls"]["live"]["requests"]
    assert resumed["stages"] == manifest["stages"]


def test_a_document_that_fails_alone_does_not_stop_the_run(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    library = tmp_path / "library"
    library.mkdir()
    for name in CORPUS:
        shutil.copy(corpus_dir / name, library / name)
    (library / "empty_rules.md").write_text("# Notes\n\nThe weather was pleasant today, and the lake was calm.\n")
    out = tmp_path / "run"
    result = runner.invoke(app, ["agent", "run", str(library), "--out", str(out), "--max-examples", "6"])
    assert result.exit_code == 0, result.stderr
    failed = [line for line in result.stderr.splitlines() if "empty_rules.md failed" in line]
    assert len(failed) == 1, result.stderr
    examples = [json.loads(line) for line in (out / "dataset.jsonl").read_text().splitlines()]
    assert len(examples) == 6

    # One of two documents failing is more than --max-failure-rate 0.4 allows: the run stops.
    two = tmp_path / "two"
    two.mkdir()
    shutil.copy(corpus_dir / CORPUS[0], two / CORPUS[0])
    shutil.copy(library / "empty_rules.md", two / "empty_rules.md")
    stopped = runner.invoke(
        app, ["agent", "run", str(two), "--out", str(tmp_path / "out2"), "--max-failure-rate", "0.4"]
    )
    assert stopped.exit_code == 1
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith("synthgen: error: 1 of 2 documents failed, more than --max-failure-rate 0.4 allows"), last
    assert "empty_rules.md" in last
    assert not (tmp_path / "out2" / "dataset.jsonl").exists()


def test_status_of_a_finished_run_and_of_a_folder_that_is_none(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    places = _library(corpus_dir, tmp_path / "library")
    out = tmp_path / "run"
    assert (
        runner.invoke(
            app, ["agent", "run", str(tmp_path / "library"), "--out", str(out), "--max-examples", "6"]
        ).exit_code
        == 0
    )
    status = runner.invoke(app, ["status", str(out)])
    assert status.exit_code == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[1] == f"database   sqlite:///{(out / 'dbos.sqlite').absolute()}"
    assert lines[2].startswith(f"finished   {len(places)} documents · 6 examples · ")
    missing = runner.invoke(app, ["status", str(tmp_path / "library")])
    assert missing.exit_code == 1
    assert missing.stderr.strip() == (
        f"synthgen: error: {tmp_path / 'library'} is not a run directory (no run.json): give the folder a run wrote"
    )


def test_a_bad_database_url_is_one_line_without_its_password(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    doc, out = corpus_dir / CORPUS[0], tmp_path / "run"
    wrong = runner.invoke(
        app, ["agent", "run", str(doc), "--out", str(out), "--database-url", "mysql://bob:s3cret@db/x"]
    )
    assert wrong.exit_code == 1
    assert wrong.stderr.strip() == (
        "synthgen: error: --database-url mysql://bob:[REDACTED]@db/x: not a database URL; "
        "give e.g. postgresql+psycopg://user@host:5432/synthgen (user:password@host when it needs one)"
    )
    url = "postgresql://bob:s3cret@127.0.0.1:1/synthgen"  # nothing listens on port 1
    unreachable = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out)], env={"SYNTHGEN_DATABASE_URL": url})
    assert unreachable.exit_code == 1
    line = unreachable.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert line.startswith(
        "synthgen: error: cannot reach the database postgresql+psycopg://bob:[REDACTED]@127.0.0.1:1/synthgen: "
    )
    assert line.endswith("; check --database-url")
    assert "s3cret" not in wrong.stderr + unreachable.stderr
    assert not out.exists()  # nothing written
    assert scripted.requests == []
    worker = runner.invoke(app, ["worker", "--database-url", url])
    assert worker.exit_code == 1
    assert worker.stderr.startswith(
        "synthgen: error: cannot reach the database postgresql+psycopg://bob:[REDACTED]@127.0.0.1:1"
    )


def _database_with_another_run(url: str) -> None:
    """A database holding a document of another run, still queued."""
    DBOS(config={"name": "synthgen", "system_database_url": url, "application_version": "synthgen-other",
                 "run_admin_server": False, "log_level": "WARNING"})  # fmt: skip
    DBOS.launch()  # creates DBOS's tables
    DBOS.destroy(workflow_completion_timeout_sec=0)
    client = DBOSClient(system_database_url=url)
    try:
        options = {"workflow_name": PLAN_WORKFLOW, "queue_name": QUEUE, "app_version": "synthgen-other",
                   "workflow_id": "other:plan:doc_1"}  # fmt: skip
        client.enqueue(options, "not a task")  # type: ignore[arg-type]
    finally:
        client.destroy()


def test_the_run_directory_lock_comes_before_the_database(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    _database_with_another_run(url)
    out = tmp_path / "run"
    command = ["agent", "run", str(corpus_dir / CORPUS[0]), "--out", str(out), "--database-url", url]

    # Another synthgen process holds the run directory: that is what this run is told, before it looks
    # into the database (which another run holds too) or changes anything in the directory.
    out.mkdir()
    holder = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        locked = runner.invoke(app, command)
    finally:
        os.close(holder)
    assert locked.exit_code == 1
    assert locked.stderr.strip() == (
        f"synthgen: error: another synthgen run is using {out}: wait for it or choose another --out"
    )
    assert list(out.iterdir()) == []

    # Free directory, busy database: refused, and the new directory is gone again.
    out.rmdir()
    busy = runner.invoke(app, command)
    assert busy.exit_code == 1
    assert busy.stderr.strip() == (
        f"synthgen: error: the database {url} holds another run in progress (synthgen-other): "
        "finish it with its own command, or give this run another --database-url"
    )
    assert not out.exists()
    assert scripted.requests == []


def test_a_worker_with_no_run_to_join_is_one_line(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path / 'never-used.sqlite'}", f"sqlite:///{tmp_path / 'finished.sqlite'}"):
        if "finished" in url:  # a database DBOS has set up, with no run in progress
            DBOS(config={"name": "synthgen", "system_database_url": url, "application_version": "synthgen-old",
                         "run_admin_server": False, "log_level": "WARNING"})  # fmt: skip
            DBOS.launch()
            DBOS.destroy(workflow_completion_timeout_sec=0)
        result = runner.invoke(app, ["worker", "--database-url", url])
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            f"synthgen: error: the database {url} has no run in progress: start one with "
            "`synthgen agent run DOCUMENTS --database-url URL`, then start workers"
        )
    assert not (tmp_path / "never-used.sqlite").exists()  # looking for a run created no database
