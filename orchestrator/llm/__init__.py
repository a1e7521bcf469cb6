"""Everything about calling a model: resolving --model, retries, recording and replay, costs, embedded local models."""
