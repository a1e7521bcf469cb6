from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic_ai import models

from synthgen.orchestrator.llm import resolve as resolve_module
from synthgen.orchestrator.llm.resolve import ResolvedModel
from synthgen.testing.scripted import ScriptedModel

models.ALLOW_MODEL_REQUESTS = False

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    assert CORPUS.is_dir(), f"the shared corpus is expected beside the checkout, at {CORPUS}"
    return CORPUS


@pytest.fixture
def use_model(monkeypatch: pytest.MonkeyPatch) -> Callable[[ScriptedModel], ScriptedModel]:
    """Make `synthgen agent run` use the given scripted model instead of resolving --model."""

    def install(scripted: ScriptedModel) -> ScriptedModel:
        def resolve(
            spec: str | None, base_url: str | None, replay: bool = False, retry: object = None
        ) -> ResolvedModel:
            return ResolvedModel(scripted.model(), "function:scripted")

        monkeypatch.setattr(resolve_module, "resolve_model", resolve)
        return scripted

    return install
