"""Running the pipeline: the stages, the per-item runner, failure budgets and interrupts."""
