from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic_ai import models
from scripted_model import install_model

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
    return lambda scripted: install_model(monkeypatch, scripted)
