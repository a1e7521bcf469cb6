"""Data contracts shared by every stage. Nothing here imports from the rest of synthgen."""
