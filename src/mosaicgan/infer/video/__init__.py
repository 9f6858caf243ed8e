"""The video machinery every video job shares: `io` (decode, encode, probe), `pipeline` (the
decode / frame stage / encode threads), `job` (the atomic or resumable write around it),
`resume` (segments kept across an interruption), `steady` (boxes -> tracks, smoothed and
bridged). A job only brings its frame stage (`infer.add.video_stage`, `infer.remove.video_stage`)."""
