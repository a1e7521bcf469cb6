"""`synthgen export`: every format loads in its real target library with IDs and evidence intact.

The target libraries are optional (the `exports` extra). With CI=true a missing one fails the
test; locally it is skipped with the reason. They import slowly, so each is imported inside
the tests that use it, once per session.
"""

import importlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer
from pydantic import TypeAdapter
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from typer.testing import CliRunner

from synthgen.errors import InputError
from synthgen.orchestrator.cli import app as cli
from synthgen.orchestrator.cli.export import export, export_command
from synthgen.orchestrator.exports import files, registry
from synthgen.orchestrator.exports.loaded import LoadedRun, load_run
from synthgen.orchestrator.exports.registry import FORMATS
from synthgen.orchestrator.exports.view import ExampleView, example_views
from synthgen.orchestrator.llm import resolve as resolve_module
from synthgen.orchestrator.llm.resolve import ResolvedModel
from synthgen.testing.scripted import ScriptedModel

DOCS = Path(__file__).resolve().parents[1] / "README.md"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

# No telemetry, no hub, no dotfiles in the checkout: these libraries read them at import time.
QUIET_LIBRARIES = {
    "DEEPEVAL_TELEMETRY_OPT_OUT": "1",
    "DEEPEVAL_DISABLE_DOTENV": "1",
    "GSK_DISABLE_ANALYTICS": "true",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def target(module: str) -> ModuleType:
    """Import an eval library: a failure in CI, a skip with the reason elsewhere."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        reason = f"{module} cannot be imported ({err}); install the extra: pip install -e '.[exports]'"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


# --- a real run, made once ---------------------------------------------------------------


def _with_earlier_turns(scripted: ScriptedModel) -> Callable[[list[ModelMessage], AgentInfo], ModelResponse]:
    """The scripted writer, except that customers asking about one rule get a greeting exchange first.

    The run then holds single-turn and multi-turn examples, as a real model writes them.
    """

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        response = scripted.respond(messages, info)
        if scripted.requests[-1] != "example_writer":
            return response
        call = response.parts[0]
        assert isinstance(call, ToolCallPart)
        args = dict(call.args_as_dict())
        system, *_, request = args["messages"]
        if "My question is about" in request["content"]:
            args["messages"] = [
                system,
                {"role": "user", "content": "Hello? Is anyone there?"},
                {"role": "assistant", "content": "Yes, I'm here. How can I help you today?"},
                request,
            ]
        return ModelResponse(parts=[ToolCallPart(call.tool_name, args)], model_name="scripted")

    return respond


@pytest.fixture(scope="module", autouse=True)
def quiet_libraries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("library-home")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in QUIET_LIBRARIES.items():
            patch.setenv(name, value)
        patch.setenv("DEEPEVAL_CACHE_FOLDER", str(home / "deepeval"))
        patch.setenv("HF_HOME", str(home / "huggingface"))
        yield


@pytest.fixture(scope="module")
def run_dir(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = FunctionModel(_with_earlier_turns(ScriptedModel()), model_name="scripted")
    out = tmp_path_factory.mktemp("export-run") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            resolve_module, "resolve_model", lambda *args, **kwargs: ResolvedModel(model, "function:scripted")
        )
        result = CliRunner().invoke(
            cli.app,
            ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out", str(out), "--max-examples", "4"],
        )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def run(run_dir: Path) -> LoadedRun:
    return load_run(run_dir)


@pytest.fixture(scope="module")
def views(run: LoadedRun) -> list[ExampleView]:
    views = list(example_views(run))
    assert {v.is_multi_turn for v in views} == {True, False}, "the run should mix single- and multi-turn examples"
    return views


@pytest.fixture(scope="module")
def exports(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exports") / "all"
    export(run_dir, "all", out)
    return out


def _criteria_json(view: ExampleView) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in view.example.evaluation_criteria]


def _turns(messages: Any) -> list[dict[str, str]]:
    return [
        {"role": m["role"], "content": m["content"]} if isinstance(m, dict) else {"role": m.role, "content": m.content}
        for m in messages
    ]


def assert_lineage(metadata: dict[str, Any], view: ExampleView) -> None:
    """IDs, the source document hash and every cited line range and quote survived."""
    assert metadata["example_id"] == view.example.id
    assert metadata["test_case_id"] == view.test_case.id
    assert metadata["use_case_id"] == view.use_case.id
    assert metadata["policy_ids"] == view.test_case.policy_ids
    assert metadata["document_id"] == view.document.id
    assert metadata["document_sha256"] == view.document.sha256 and len(view.document.sha256) == 64
    assert metadata["evaluation_criteria"] == _criteria_json(view)
    assert all(e["evidence"] and e["evidence"][0]["quote"] for e in metadata["evaluation_criteria"])


# --- one test per format, each with its real library ---------------------------------------


def test_deepeval_goldens_load_in_evaluation_dataset(exports: Path, views: list[ExampleView]) -> None:
    dataset_module = target("deepeval.dataset")
    single = dataset_module.EvaluationDataset()
    single.add_goldens_from_json_file(str(exports / "deepeval" / "goldens.json"))
    multi = dataset_module.EvaluationDataset()
    multi.add_goldens_from_json_file(str(exports / "deepeval" / "conversational_goldens.json"))

    assert len(single.goldens) + len(multi.goldens) == len(views)
    assert all(isinstance(g, dataset_module.Golden) for g in single.goldens)
    assert all(isinstance(g, dataset_module.ConversationalGolden) for g in multi.goldens)
    by_id = {v.example.id: v for v in views}
    assert sorted(g.name for g in [*single.goldens, *multi.goldens]) == sorted(by_id)

    for golden in single.goldens:
        view = by_id[golden.name]
        assert not view.is_multi_turn
        assert golden.input == view.question != ""
        assert golden.expected_output == view.example.expected_output != ""
        assert golden.context == view.quotes and golden.context
        assert golden.expectations.must == view.criteria
        assert golden.additional_metadata["system_prompt"] == view.system_prompt
        assert_lineage(golden.additional_metadata, view)
    for golden in multi.goldens:
        view = by_id[golden.name]
        assert view.is_multi_turn
        assert _turns(golden.turns) == _turns(view.dialogue) and golden.turns[-1].role == "user"
        assert golden.scenario == view.test_case.scenario != ""
        assert golden.expected_outcome == view.example.expected_output
        assert golden.context == view.quotes
        assert golden.expectations.must == view.criteria
        assert_lineage(golden.additional_metadata, view)


def test_evidently_table_loads_with_its_data_definition(exports: Path, views: list[ExampleView]) -> None:
    evidently = target("evidently")
    pandas = target("pandas")
    meta = json.loads((exports / "evidently" / "dataset.json").read_text())
    frame = pandas.read_csv(exports / "evidently" / "dataset.csv", keep_default_na=False)
    dataset = evidently.Dataset.from_pandas(
        frame,
        data_definition=evidently.DataDefinition.parse_obj(meta["data_definition"]),
        metadata=meta["metadata"],
        tags=meta["tags"],
    )

    loaded = dataset.as_dataframe()
    assert len(loaded) == len(views)
    definition = dataset.data_definition
    assert definition.id_column == "id"
    assert dataset.column("input").type == evidently.ColumnType.Text
    assert dataset.column("expected_output").type == evidently.ColumnType.Text
    assert dataset.column("use_case_id").type == evidently.ColumnType.Categorical
    axis = min(name for view in views for name in view.example.metadata.axis_values)
    assert dataset.column(f"axis.{axis}").type == evidently.ColumnType.Categorical
    assert dataset.column("evaluation_criteria").type == evidently.ColumnType.Unknown
    assert dataset.metadata["source_documents"] == {views[0].document.path: views[0].document.sha256}

    rows = {row["id"]: row for row in loaded.to_dict(orient="records")}
    assert sorted(rows) == sorted(v.example.id for v in views)
    for view in views:
        row = rows[view.example.id]
        assert row["input"] == view.question != ""
        assert row["expected_output"] == view.example.expected_output != ""
        assert row["system_prompt"] == (view.system_prompt or "")
        assert row["context"] == "\n\n".join(view.quotes) != ""
        assert json.loads(row["history"]) == _turns(view.history)
        assert (row[f"axis.{axis}"] or "") == view.example.metadata.axis_values.get(axis, "")
        assert_lineage(
            {
                **row,
                "example_id": row["id"],
                "policy_ids": json.loads(row["policy_ids"]),
                "evaluation_criteria": json.loads(row["evaluation_criteria"]),
            },
            view,
        )


def test_giskard_testset_loads_in_raget(exports: Path, views: list[ExampleView]) -> None:
    rag = target("giskard.rag")
    testset = rag.QATestset.load(str(exports / "giskard" / "testset.jsonl"))

    assert len(testset) == len(views)
    samples = {s.id: s for s in testset.samples}
    assert sorted(samples) == sorted(v.example.id for v in views)
    assert set(testset.get_metadata_values("question_type")) == {"conversational", "situational"}
    for view in views:
        sample = samples[view.example.id]
        assert sample.question == view.question != ""
        assert sample.reference_answer == view.example.expected_output != ""
        assert _turns(sample.conversation_history) == _turns(view.history)
        for cited in view.evidence:
            assert (
                f"lines {cited.line_start}-{cited.line_end} ({cited.policy_id}): {cited.quote}"
                in sample.reference_context
            )
        assert sample.metadata["topic"] == view.use_case.name
        assert sample.metadata["seed_document_id"] == view.document.id
        assert_lineage(sample.metadata, view)


def test_pydantic_evals_dataset_loads_typed_and_untyped(exports: Path, views: list[ExampleView]) -> None:
    pydantic_evals = target("pydantic_evals")
    from synthgen.orchestrator.exports.pydantic_evals import CaseInputs
    from synthgen.orchestrator.exports.view import ExampleLineage

    path = exports / "pydantic-evals" / "dataset.json"
    untyped = pydantic_evals.Dataset[dict, str, dict].from_file(path)
    typed = pydantic_evals.Dataset[CaseInputs, str, ExampleLineage].from_file(path)

    assert len(untyped.cases) == len(typed.cases) == len(views)
    assert untyped.name == views[0].run_id
    for case, typed_case, view in zip(untyped.cases, typed.cases, views, strict=True):
        assert case.name == typed_case.name == view.example.id
        assert case.inputs["messages"] == [m.model_dump() for m in view.example.messages]
        assert typed_case.inputs.messages == view.example.messages
        assert case.expected_output == view.example.expected_output != ""
        assert_lineage(case.metadata, view)
        assert typed_case.metadata == view.lineage()
    # The schema beside the file is the one its "$schema" names, and it describes the cases.
    schema = json.loads((exports / "pydantic-evals" / "dataset_schema.json").read_text())
    assert json.loads(path.read_text())["$schema"] == "dataset_schema.json"
    assert {"$schema", "name", "cases"} <= set(schema["properties"])


def test_chat_jsonl_is_openai_chat_format_with_aligned_metadata(exports: Path, views: list[ExampleView]) -> None:
    from openai.types.chat import ChatCompletionMessageParam

    chat = TypeAdapter(list[ChatCompletionMessageParam])
    lines = (exports / "chat-jsonl" / "chat.jsonl").read_text().splitlines()
    metadata = [json.loads(line) for line in (exports / "chat-jsonl" / "metadata.jsonl").read_text().splitlines()]

    assert len(lines) == len(metadata) == len(views)
    for number, (line, meta, view) in enumerate(zip(lines, metadata, views, strict=True), 1):
        record = json.loads(line)
        assert set(record) == {"messages"}
        messages = chat.validate_python(record["messages"])
        assert messages[:-1] == [m.model_dump() for m in view.example.messages]
        assert messages[-1] == {"role": "assistant", "content": view.example.expected_output}
        assert meta["line"] == number
        assert_lineage(meta, view)


def test_hf_files_load_with_nested_fields_and_a_dataset_card(exports: Path, views: list[ExampleView]) -> None:
    datasets = target("datasets")
    hub = target("huggingface_hub")
    folder = exports / "hf"
    by_json = datasets.load_dataset("json", data_files={"test": str(folder / "data" / "test.jsonl")}, split="test")
    by_card = datasets.load_dataset(str(folder), split="test")  # finds the split through the card's `configs`

    assert len(by_json) == len(by_card) == len(views)
    assert by_json.to_list() == by_card.to_list()
    for row, view in zip(by_json, views, strict=True):
        assert row["id"] == view.example.id
        assert row["messages"] == [m.model_dump() for m in view.example.messages]
        assert row["expected_output"] == view.example.expected_output != ""
        assert {a["name"]: a["value"] for a in row["axis_values"]} == view.example.metadata.axis_values
        assert_lineage({**row, "example_id": row["id"]}, view)

    card = hub.DatasetCard.load(folder / "README.md").data.to_dict()
    assert "license" in card
    provenance = card["synthgen"]
    assert provenance["source_documents"] == [{"path": views[0].document.path, "sha256": views[0].document.sha256}]
    assert provenance["seed"] == 42 and provenance["model"] == "function:scripted"
    assert provenance["counts"]["examples"] == len(views)


def test_docs_snippets_load_every_format(
    exports: Path, views: list[ExampleView], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README shows one snippet per format; each runs against a real export."""
    snippets = dict(re.findall(r"<!-- snippet: ([\w-]+) -->\s*```python\n(.*?)```", DOCS.read_text(), re.DOTALL))
    assert sorted(snippets) == sorted(FORMATS)
    for module in ("deepeval.dataset", "evidently", "giskard.rag", "pydantic_evals", "datasets"):
        target(module)
    shutil.copytree(exports, tmp_path / "runs" / "my-run" / "exports")
    monkeypatch.chdir(tmp_path)
    sizes: dict[str, Callable[[dict[str, Any]], int]] = {
        "deepeval": lambda ns: len(ns["dataset"].goldens) + len(ns["conversations"].goldens),
        "evidently": lambda ns: len(ns["dataset"].as_dataframe()),
        "giskard": lambda ns: len(ns["testset"]),
        "pydantic-evals": lambda ns: len(ns["dataset"].cases),
        "chat-jsonl": lambda ns: len(ns["conversations"]),
        "hf": lambda ns: len(ns["dataset"]),
    }
    for name, code in snippets.items():
        namespace: dict[str, Any] = {}
        exec(compile(code, f"README.md ({name})", "exec"), namespace)  # noqa: S102 - the docs are ours
        assert sizes[name](namespace) == len(views), name


# --- the command ------------------------------------------------------------------------------

app = typer.Typer()
app.command("export")(export_command)


@app.callback()
def _root() -> None:  # a callback keeps `export` a named subcommand, as under `synthgen`
    pass


def run_export(*args: str | Path) -> Any:
    return CliRunner().invoke(app, ["export", *map(str, args)])


def assert_one_line_error(result: Any, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthgen: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_export_writes_the_default_folder_and_says_where(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("exports"))
    result = run_export(copy, "--format", "deepeval")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == f"deepeval: 4 examples -> {copy / 'exports' / 'deepeval'}/ (conversational_goldens.json, goldens.json)\n"
    )
    assert sorted(p.name for p in (copy / "exports" / "deepeval").iterdir()) == [
        files.EXPORT_MARKER,
        "conversational_goldens.json",
        "goldens.json",
    ]

    every = run_export(copy, "--format", "all", "--out", tmp_path / "every")
    assert every.exit_code == 0, every.output
    assert sorted(p.name for p in (tmp_path / "every").iterdir()) == sorted(FORMATS)
    assert len(every.stdout.splitlines()) == len(FORMATS)


def test_existing_output_is_refused_unless_forced(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_export(run_dir, "--format", "hf", "--out", out).exit_code == 0
    (out / "README.md").write_text("an older export")
    assert_one_line_error(run_export(run_dir, "--format", "hf", "--out", out), str(out), "--force")
    assert (out / "README.md").read_text() == "an older export"

    forced = run_export(run_dir, "--format", "hf", "--out", out, "--force")
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in out.iterdir()) == [files.EXPORT_MARKER, "README.md", "data"]
    assert (out / "README.md").read_text() != "an older export"
    assert leftovers(tmp_path) == []


def test_force_never_replaces_a_folder_synthgen_did_not_export(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    for args in (["--force"], []):
        assert_one_line_error(run_export(run_dir, "--format", "hf", "--out", out, *args), str(out))
    forced = run_export(run_dir, "--format", "hf", "--out", out, "--force")
    assert_one_line_error(forced, f"{out} exists and is not an export synthgen wrote", "choose another --out")
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("where", ["the run", "the run's parent", "a link to the run"])
def test_force_never_replaces_the_run_being_exported(where: str, run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "parent" / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("exports"))
    (tmp_path / "parent" / "notes.txt").write_text("mine")
    (tmp_path / "link").symlink_to(copy)
    out = {"the run": copy, "the run's parent": copy.parent, "a link to the run": tmp_path / "link"}[where]
    before = {p: p.read_bytes() for p in (tmp_path / "parent").rglob("*") if p.is_file()}
    result = run_export(copy, "--format", "hf", "--out", out, "--force")
    assert_one_line_error(result, f"--out {out} holds the run being exported", "choose another --out")
    assert {p: p.read_bytes() for p in (tmp_path / "parent").rglob("*") if p.is_file()} == before
    assert runner_validate(copy).exit_code == 0


def runner_validate(run: Path) -> Any:
    return CliRunner().invoke(cli.app, ["validate", str(run)])


def test_format_all_refuses_when_any_subfolder_exists(run_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "out" / "giskard").mkdir(parents=True)
    assert_one_line_error(run_export(run_dir, "--format", "all", "--out", tmp_path / "out"), "giskard", "--force")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["giskard"]


def test_an_out_path_below_a_file_is_refused(run_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert_one_line_error(run_export(run_dir, "--format", "all", "--out", tmp_path / "file"), "is a file")
    assert (tmp_path / "file").read_text() == "x"


def test_unknown_format_lists_the_valid_ones(run_dir: Path, tmp_path: Path) -> None:
    result = run_export(run_dir, "--format", "ragas", "--out", tmp_path / "out")
    assert_one_line_error(result, "'ragas'", *FORMATS, "all")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["missing", "a file", "incomplete", "edited"])
def test_a_run_that_does_not_validate_is_refused(case: str, run_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "run"
    expected = {
        "missing": "does not exist",
        "a file": "is not a run directory",
        "incomplete": "dataset.jsonl: missing",
        "edited": "sha256 differs",
    }[case]
    if case == "a file":
        bad.write_text("not a run")
    elif case != "missing":
        shutil.copytree(run_dir, bad, ignore=shutil.ignore_patterns("exports"))
        if case == "incomplete":
            (bad / "dataset.jsonl").unlink()
        else:
            (bad / "dataset.jsonl").write_text(
                (bad / "dataset.jsonl").read_text().replace("You are a support assistant", "You are an assistant")
            )
    result = run_export(bad, "--format", "all", "--out", tmp_path / "out")
    assert_one_line_error(result, str(bad), expected)
    assert not (tmp_path / "out").exists()


def test_a_failure_part_way_leaves_nothing_behind(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged: list[Path] = []
    stage = files._stage

    def fail_on_third(target: files.ExportTarget) -> Path:
        if len(staged) == 2:
            raise OSError(28, "No space left on device")
        staged.append(stage(target))
        return staged[-1]

    monkeypatch.setattr(files, "_stage", fail_on_third)
    with pytest.raises(InputError, match="cannot write .*No space left"):
        export(run_dir, "all", tmp_path / "out")
    assert staged and not any(p.exists() for p in staged)
    assert list((tmp_path / "out").iterdir()) == []


def test_an_exporter_error_writes_nothing(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(run: LoadedRun) -> files.ExportFiles:
        raise RuntimeError("renderer bug")

    monkeypatch.setitem(registry.FORMATS, "hf", registry.ExportFormat("hf", "broken", broken))
    with pytest.raises(RuntimeError, match="renderer bug"):
        export(run_dir, "all", tmp_path / "out")
    assert not (tmp_path / "out").exists()
