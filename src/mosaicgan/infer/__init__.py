"""Inference: checkpoints and mosaic tools as functions on frames, and the loops that feed
them files and video streams.

A frame is a tensor (C, H, W) in [-1, 1], C = 3 (RGB) or 1 (grey); a mask is (H, W) in
[0, 1]. The per-frame cores never touch files, and the file loops do nothing but adapt files
to the cores and back, so a video loop (or a new command such as `remove`) calls the same
cores. Where each job lives:

Per-frame cores
  mosaic_core.py    mosaic_image(frame, mask, options=MosaicOptions, generator=) -> frame;
                    applied_mask (as grown/feathered); mosaic_generator (seeded per frame)
  region_finder.py  RegionRequest (mask file, boxes, faces, CAM class, random shapes) ->
                    RegionFinder(request).find(frame) -> Region(mask, info)
  translator.py     Translator.from_checkpoint(...)(batch) -> batch; translate_image(frame)
  tile_plan.py      how a batch runs within memory (whole, fewer per forward, tiles); autocast

One home each for files
  image_io.py       load_image(path, channels=) -> frame + alpha (EXIF-upright);
                    write_image(frame, path, alpha=) in the extension's format; as_frame(array)
  outputs.py        plan_outputs(inputs, out_dir, names=): output names, never an input,
                    no two inputs on one file; checked before anything is written
  mask_io.py        read_mask / write_mask / find_mask_file (--mask DIR) / pair_mask_path

File loops (one per command)
  add_files.py        `add`          translate_files.py  `translate`
  evaluate.py         `eval`         make_pairs.py       `make-pairs`
  export_onnx.py      `export`: a generator or the restorer as ONNX, checked with onnxruntime

Videos (adapt streams to the same cores)
  video_io.py         is_media_file (by content); VideoInput (frames as arrays, upright, with
                      pts); VideoOutput (encode with the input's timestamps, rotation, stream-copy
                      of audio/subtitles); EncodeOptions
  video_pipeline.py   the streaming loop: decode / frame stage / encode threads
  video_job.py        one video job: atomic or resumable write around the loop
  video_mosaic.py     add's frame stage: find regions (steadied), mosaic_frame
  steady.py           Steadier: boxes -> tracks, smoothed, short misses bridged (no pixels)
  add_video.py        `add` on a video: output names, checks, provenance tags
  video_restore.py    remove's frame stage: mosaics found 1 frame in N, followed on crops
  remove_temporal.py  StillRegions: restorations held where the block means did not move
  remove_video.py     `remove` on a video: checks, provenance tags
  video_resume.py     --resume: segments kept across an interruption, joined without re-encoding

Model-free tools (mosaic, masks, boxes) need no checkpoint; `translate`/`eval` run a
generator. Finding regions (faces, CAM) uses the detectors in `mosaicgan.localize`; the pure
pixel operations are in `mosaicgan.ops`.
"""
