"""Pipeline stages, in the order data flows: extract -> design -> write -> supervise -> output."""
