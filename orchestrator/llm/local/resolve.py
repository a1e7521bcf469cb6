"""`--model local[:SIZE]`: check the weights, then give a pydantic-ai model whose server starts on first use."""

from pydantic_ai.settings import ModelSettings

from synthgen.orchestrator.llm.local.adapter import LocalChatModel
from synthgen.orchestrator.llm.local.catalog import get_spec
from synthgen.orchestrator.llm.local.runtime import XllamacppServer
from synthgen.orchestrator.llm.local.weights import verify, weights_path

# A small model can repeat list items until the context is full; this bounds such a call. The 1.5B
# model's extraction of a dense 136-line policy needs ~3,000 tokens (2,048 cut it short), and three
# attempts with their history (~15k tokens) still fit the 16k context. Agent settings override it.
DEFAULT_MAX_TOKENS = 4096


def resolve_local_model(name: str, check_weights: bool = True) -> LocalChatModel:
    """The model for `local`, `local:0.5b` or `local:1.5b`.

    Raises `LocalModelError` (one line, says how to re-fetch) if the weights are missing or corrupt
    (unless `check_weights` is off, for replays that never start the server). Nothing is loaded
    until the first request; the caller owns the server: `async with model:` stops it at the end
    of the block. Resolve it once per run: two servers of one model on 2 cores would only compete
    for them and double the memory.
    """
    spec = get_spec(name)
    # A replay never starts the server, so it needs no weights on disk.
    server = XllamacppServer(spec, verify(spec.name) if check_weights else weights_path(spec))
    return LocalChatModel(spec.model_name, server, settings=ModelSettings(max_tokens=DEFAULT_MAX_TOKENS))
