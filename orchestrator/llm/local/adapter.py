"""A pydantic-ai model for the embedded runtime, so agents run on it unchanged in the default (tool) output mode.

Small local models write a requested tool call as plain text, so tool output fails with them as it
is; llama.cpp, though, enforces a `response_format` JSON Schema with a grammar. So, per request:

- Structured output (output tools, no text allowed): the output tool's parameter schema goes out as
  `response_format` (strict), and the JSON that comes back is returned as a call of that output tool.
  The agent validates it and runs its output validators exactly as with any other model.
- Function tools are not sent. These models never called them reliably when measured, and a tool
  list only takes context; an agent that runs here must have what it needs in its prompt, and its
  output validators (which still run) catch what the model got wrong.
- History: earlier output-tool calls are shown to the model as the JSON it wrote, and their retry
  feedback as retry feedback, since the model never saw any tool.
- One request at a time (the server has one slot), and `cache_prompt: false`: with llama.cpp's prompt
  cache on, one prompt at temperature 0 gave different outputs on repeated sends. Temperature, seed
  and max_tokens come from the agent's model settings as usual.
"""

import asyncio
from dataclasses import replace
from typing import Any, cast

from openai import AsyncOpenAI
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequestPart,
    ModelResponse,
    ModelResponsePart,
    RetryFeedbackPart,
    RetryInfo,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.output import OutputObjectDefinition
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition
from pydantic_core import ErrorDetails

from synthgen.orchestrator.llm.local.runtime import LocalServer

# The server's port is only known once it has started (lazily, on the first request), so the
# client is pointed at it per request; this placeholder is never dialled.
_NOT_STARTED_URL = "http://127.0.0.1:0/v1"
# A small model on two shared cores can take more than the OpenAI SDK's default 10 minutes for one
# long answer (an extraction batch, measured at ~3 tokens/s on a loaded machine); the SDK then
# silently retried it from scratch, twice, so such an answer never arrived. The server is in this
# process: a request is not retried, and may take an hour.
LOCAL_REQUEST_TIMEOUT = 3600.0


def _local_client() -> AsyncOpenAI:
    return AsyncOpenAI(base_url=_NOT_STARTED_URL, api_key="local", timeout=LOCAL_REQUEST_TIMEOUT, max_retries=0)


class LocalProvider(OpenAIProvider):
    """The OpenAI-compatible API of the embedded server, named so that spans, usage and prices never say `openai`."""

    @property
    def name(self) -> str:
        return "xllamacpp"


class LocalChatModel(OpenAIChatModel):
    """An `OpenAIChatModel` that talks to an embedded `LocalServer` and turns tool output into JSON-Schema output."""

    def __init__(self, model_name: str, server: LocalServer, *, settings: ModelSettings | None = None) -> None:
        super().__init__(model_name, provider=LocalProvider(openai_client=_local_client()), settings=settings)
        self._server = server
        self._lock = asyncio.Lock()

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        # Prepared here only to learn the resolved output mode; `super().request` prepares again,
        # which leaves already prepared parameters as they are.
        settings, params = self.prepare_request(model_settings, model_request_parameters)
        output_tool = _sole_output_tool(params)
        params = replace(params, function_tools=[])
        if output_tool is not None:
            params = _json_schema_output(params, output_tool)
        async with self._lock:
            self.client.base_url = await self._server.base_url()
            response = await super().request(messages, _prompt_cache_off(settings), params)
        return response if output_tool is None else _as_output_call(response, output_tool.name)

    def prepare_messages(
        self,
        messages: list[ModelMessage],
        model_request_parameters: ModelRequestParameters | None = None,
    ) -> list[ModelMessage]:
        tools = model_request_parameters.output_tools if model_request_parameters else []
        output_tools = {tool.name for tool in tools}
        if output_tools:
            messages = [_without_output_tool_parts(message, output_tools) for message in messages]
        return super().prepare_messages(messages, model_request_parameters)

    @property
    def server(self) -> LocalServer:
        return self._server

    async def aclose(self) -> None:
        """Stop the embedded server (a later request starts it again) and close the HTTP client."""
        self._server.close()
        await self.client.close()
        self._provider = LocalProvider(openai_client=_local_client())  # a later request starts the server again

    async def __aexit__(self, *exc_info: object) -> bool | None:
        """Leaving `async with model:` stops the server: it must not outlive the run that started it."""
        await self.aclose()
        return None


def _sole_output_tool(params: ModelRequestParameters) -> ToolDefinition | None:
    """The output tool to turn into JSON-Schema output, or None when the request can be sent as it is."""
    if params.output_mode != "tool" or params.allow_text_output or not params.output_tools:
        return None
    if len(params.output_tools) > 1:
        names = ", ".join(tool.name for tool in params.output_tools)
        raise UserError(
            f"the local model takes one structured output type per agent, got output tools {names}: "
            "use one output type, or NativeOutput([...]) for a union"
        )
    return params.output_tools[0]


def _json_schema_output(params: ModelRequestParameters, tool: ToolDefinition) -> ModelRequestParameters:
    return replace(
        params,
        output_mode="native",
        output_object=OutputObjectDefinition(
            json_schema=tool.parameters_json_schema, name=tool.name, description=tool.description, strict=True
        ),
        output_tools=[],
        allow_text_output=True,
    )


def _prompt_cache_off(settings: ModelSettings | None) -> ModelSettings:
    settings = settings or ModelSettings()
    extra_body = cast(dict[str, Any], settings.get("extra_body") or {})
    return {**settings, "extra_body": {**extra_body, "cache_prompt": False}}


def _as_output_call(response: ModelResponse, tool_name: str) -> ModelResponse:
    text = "".join(part.content for part in response.parts if isinstance(part, TextPart))
    others = [part for part in response.parts if not isinstance(part, TextPart)]
    return replace(response, parts=[*others, ToolCallPart(tool_name, text)])


def _without_output_tool_parts(message: ModelMessage, output_tools: set[str]) -> ModelMessage:
    """Show past output-tool calls as the text the model wrote and their retries as retry feedback."""
    if isinstance(message, ModelResponse):
        response_parts: list[ModelResponsePart] = [
            TextPart(part.args_as_json_str())
            if isinstance(part, ToolCallPart) and part.tool_name in output_tools
            else part
            for part in message.parts
        ]
        return replace(message, parts=response_parts)
    request_parts: list[ModelRequestPart] = []
    for part in message.parts:
        if not (isinstance(part, ToolReturnPart) and part.tool_name in output_tools):
            request_parts.append(part)
        elif part.outcome == "retried":
            cause = part.retry.cause if part.retry is not None else "model_retry"
            feedback_cause = "validation_error" if cause == "validation_error" else "model_retry"
            # A retried output-tool call carries validation errors or a ModelRetry message, nothing else.
            content = cast("list[ErrorDetails] | str", part.content)
            if isinstance(content, list):  # as ErrorDetails says: a tuple `loc`, or pydantic warns on every dump
                content = [ErrorDetails(**{**detail, "loc": tuple(detail["loc"])}) for detail in content]
            request_parts.append(RetryFeedbackPart(content, retry=RetryInfo(feedback_cause)))
        # A successful output-tool return only says the run ended: nothing for the model to read.
    return replace(message, parts=request_parts)
