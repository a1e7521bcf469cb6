"""Seeing a run: traces (Logfire and trace.jsonl), the trace viewer, logs and progress on stderr."""
