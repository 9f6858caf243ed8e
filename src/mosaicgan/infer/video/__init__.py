"""The video machinery every video job shares: `decode` (what a file holds, and its frames,
upright), `encode` (frames and the other streams written back), `container_size` (what the
container says its size is, to tell a cut file), `pipeline` (the decode / frame stage / encode
threads), `job` (the atomic or resumable write around it), `resume` (segments kept across an
interruption), `steady` (boxes -> tracks, smoothed and bridged), `motion` (the camera's
motion and cuts). A job only brings its frame stage (`infer.add.video_stage`,
`infer.remove.video_stage`)."""
