"""Training: one loop (`loop.py`) and one task per model whose `step(batch)` returns losses."""
