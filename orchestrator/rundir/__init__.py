"""The run directory: its layout and binding, reading documents in, reading a finished run back, validating and scoring it."""
