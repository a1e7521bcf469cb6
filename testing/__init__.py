"""Test support, not product code: the test doubles synthgen's tests and demos run against.

- `scripted.ScriptedModel`: a rule-based stand-in for the LLM (a pydantic-ai FunctionModel) that
  answers every agent the way a careful model would, from the prompt alone.
- `fake_openai.FakeOpenAIServer`: an OpenAI-compatible HTTP server on 127.0.0.1 that answers with
  the scripted model and injects faults (429s, 5xx, timeouts, cut-short bodies) on request;
  `python -m synthgen.testing.fake_openai --port 8089` serves it for a demo.

Nothing under agents/, tools/, schemas/, orchestrator/ or evals/ imports this package
(tests/test_boundaries.py checks it).
"""
