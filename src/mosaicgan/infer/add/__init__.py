"""`add`: mosaic a region. `core` (the per-frame mosaic), `regions` (a request -> the mask of a
frame), `files` (the image loop), `video_stage` (the frame stage of a video, steadied),
`video` (a video's checks, output names and provenance tags)."""
