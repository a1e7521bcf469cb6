"""Turning `--model` / `--base-url` into a pydantic-ai model, with one-line errors."""

import logging
import os
from dataclasses import dataclass
from typing import Any, Self

from pydantic_ai.exceptions import UserError
from pydantic_ai.models import Model, infer_model
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers import Provider
from pydantic_ai.providers.openai import OpenAIProvider

from synthgen.errors import ModelConfigError
from synthgen.orchestrator.defaults import DEFAULT_MODEL
from synthgen.orchestrator.llm.local.adapter import LocalChatModel
from synthgen.orchestrator.llm.local.catalog import DEFAULT_LOCAL_MODEL, get_spec, is_local_model_name
from synthgen.orchestrator.llm.local.resolve import resolve_local_model
from synthgen.orchestrator.llm.retries import RetryPolicy, openai_provider

DEFAULT_RETRY_POLICY = RetryPolicy()

log = logging.getLogger("synthgen")

# Chat completions, not the Responses API, because only chat completions sends the seed.
_OPENAI_PREFIXES = ("openai-chat:", "openai:")
_RETRYING_PREFIXES = ("openai-chat:", "openai:", "openai-responses:")


@dataclass(frozen=True)
class ResolvedModel:
    """The model of a run. `async with` it around the run: an embedded model's server stops at the end."""

    model: Model
    name: str  # what the manifest records, e.g. "openai-chat:gpt-4o-2024-08-06"
    base_url: str | None = None
    local: bool = False  # the embedded demo-quality model

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if isinstance(self.model, LocalChatModel):
            await self.model.aclose()


def _bare_openai_name(spec: str) -> str:
    for prefix in _OPENAI_PREFIXES:
        if spec.startswith(prefix):
            return spec[len(prefix) :]
    return spec


def resolve_model(
    spec: str | None, base_url: str | None, replay: bool = False, retry: RetryPolicy = DEFAULT_RETRY_POLICY
) -> ResolvedModel:
    """The model to run with; raises ModelConfigError saying what to set when it cannot be built.

    With `replay`, answers come from calls.jsonl only, so an OpenAI model needs no real key and a
    local model no weights. With no model and no key at all, the embedded local model is used.
    OpenAI-compatible models retry their HTTP requests under `retry` (--max-attempts, --max-wait, --timeout).
    """
    if spec is None and base_url is None and not os.environ.get("OPENAI_API_KEY"):
        log.warning(
            "no OPENAI_API_KEY and no --model: using the embedded local model %s (demo quality; "
            "set OPENAI_API_KEY or pass --model for a production dataset)",
            get_spec(DEFAULT_LOCAL_MODEL).name,
        )
        spec = DEFAULT_LOCAL_MODEL
    if spec is not None and is_local_model_name(spec):
        if base_url is not None:
            raise ModelConfigError(f"--base-url does not apply to the embedded model {spec}: drop one of them")
        name = get_spec(spec).name
        return ResolvedModel(resolve_local_model(name, check_weights=not replay), name, local=True)
    if replay and base_url is None and (spec is None or spec.startswith(_OPENAI_PREFIXES)):
        name = _bare_openai_name(spec or DEFAULT_MODEL)
        key = os.environ.get("OPENAI_API_KEY") or "replay-only"
        return ResolvedModel(OpenAIChatModel(name, provider=OpenAIProvider(api_key=key)), f"openai-chat:{name}")
    if base_url is not None:
        if not base_url.startswith(("http://", "https://")):
            raise ModelConfigError(f"--base-url {base_url!r} is not an http(s) URL: e.g. http://127.0.0.1:8080/v1")
        name = _bare_openai_name(spec or DEFAULT_MODEL)
        if not name or ":" in name:
            raise ModelConfigError(
                f"--base-url serves OpenAI-compatible chat models: pass --model NAME or openai-chat:NAME, not {spec!r}"
            )
        # Local OpenAI-compatible servers usually ignore the key, but the client insists on one.
        provider = openai_provider(retry, base_url, os.environ.get("OPENAI_API_KEY") or "not-needed")
        return ResolvedModel(OpenAIChatModel(name, provider=provider), f"openai-chat:{name}", base_url)
    spec = spec or DEFAULT_MODEL

    def retrying_provider(name: str) -> Provider[Any]:
        return openai_provider(retry)

    try:
        # OpenAI models get synthgen's retrying HTTP client (retries.py); other providers keep their SDK's retries.
        model = infer_model(spec, retrying_provider) if spec.startswith(_RETRYING_PREFIXES) else infer_model(spec)
    except UserError as err:
        message = str(err).split(". To try")[0].rstrip(".")
        raise ModelConfigError(f"cannot use model {spec!r}: {message}") from None
    except ImportError as err:
        raise ModelConfigError(f"cannot use model {spec!r}: {err}") from None
    return ResolvedModel(model, spec)
