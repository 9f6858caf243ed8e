"""`translate` and `eval`: run a generator checkpoint. `translator` (the generator over a
batch, with `tile_plan` keeping each forward within memory), `files` (the image loop),
`evaluate` (metrics against a paired test split)."""
