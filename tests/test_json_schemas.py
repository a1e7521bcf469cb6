import json
from pathlib import Path

import pytest

from synthgen.schemas.json_schema import (
    OUTPUT_CONTRACTS,
    REGENERATE_COMMAND,
    SCHEMA_DIR,
    OutputContract,
    main,
    render_schema,
    stale_schemas,
    write_schemas,
)


@pytest.mark.parametrize("output", OUTPUT_CONTRACTS, ids=lambda output: output.schema_file)
def test_checked_in_schema_matches_the_models(output: OutputContract) -> None:
    path = SCHEMA_DIR / output.schema_file
    assert path.is_file(), f"{path} is missing: run `{REGENERATE_COMMAND}` and commit the result"
    assert path.read_text("utf-8") == render_schema(output), (
        f"{path} is out of date with the models: run `{REGENERATE_COMMAND}` and commit the result"
    )


def test_no_stray_schema_files() -> None:
    expected = {output.schema_file for output in OUTPUT_CONTRACTS}
    assert {path.name for path in SCHEMA_DIR.iterdir()} == expected


def test_schemas_describe_the_shape_of_each_file() -> None:
    schemas = {output.kind: json.loads(render_schema(output)) for output in OUTPUT_CONTRACTS}
    for kind in ("use_cases", "policies", "test_cases"):
        assert schemas[kind]["type"] == "array"
    assert schemas["dataset"]["type"] == schemas["manifest"]["type"] == "object"
    assert schemas["dataset"]["additionalProperties"] is False  # models are strict
    assert set(schemas["dataset"]["required"]) == {
        "id",
        "test_case_id",
        "messages",
        "expected_output",
        "evaluation_criteria",
        "metadata",
    }
    assert schemas["dataset"]["properties"]["id"]["pattern"] == "^ex_[0-9a-f]{10,64}$"
    assert all(schema["$schema"] == "https://json-schema.org/draft/2020-12/schema" for schema in schemas.values())


def test_rendering_is_deterministic_and_ends_with_a_newline() -> None:
    for output in OUTPUT_CONTRACTS:
        text = render_schema(output)
        assert text == render_schema(output)
        assert text.endswith("}\n")
        assert json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text


def test_drift_is_detected_and_named(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    assert stale_schemas(tmp_path) == []
    (tmp_path / "policies.schema.json").write_text("{}\n")
    (tmp_path / "manifest.schema.json").unlink()
    assert stale_schemas(tmp_path) == ["policies.schema.json", "manifest.schema.json"]


def test_check_mode_passes_on_the_checked_in_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["--bogus"]) == 2
