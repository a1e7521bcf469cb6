"""The scripted model in place of --model, for tests that run `synthgen agent run` (conftest's `use_model`)."""

import pytest

from synthgen.orchestrator.llm import resolve as resolve_module
from synthgen.orchestrator.llm.resolve import ResolvedModel
from synthgen.testing.scripted import ScriptedModel


def install_model(monkeypatch: pytest.MonkeyPatch, scripted: ScriptedModel) -> ScriptedModel:
    """Make `synthgen agent run` use the given scripted model instead of resolving --model."""

    def resolve(spec: str | None, base_url: str | None, replay: bool = False, retry: object = None) -> ResolvedModel:
        return ResolvedModel(scripted.model(), "function:scripted")

    monkeypatch.setattr(resolve_module, "resolve_model", resolve)
    return scripted
