"""Inference: turn checkpoints into functions on images (and, later, videos)."""
