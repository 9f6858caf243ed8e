"""`remove`: restore mosaics. `restorer` (load the restorer network), `core` (the per-frame
restoration of found or masked mosaics), `files` (the image loop), `video_stage` and `still`
(a video's frame stage; restorations held where block means did not move), `video` (a video's
checks and provenance tags), `faces_seen` (the warning when a restoration looks like a face)."""
