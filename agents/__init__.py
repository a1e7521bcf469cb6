"""Typed pydantic-ai agents; import each from its module (e.g. synthgen.agents.extraction)."""
