"""Inference: checkpoints and mosaic tools as functions on frames, and the loops that feed
them files and video streams.

A frame is a tensor (C, H, W) in [-1, 1], C = 3 (RGB) or 1 (grey); a mask is (H, W) in
[0, 1]. The per-frame cores never touch files, and the file and video loops do nothing but
adapt files and streams to the cores and back. Each job is a package laid out alike:

  add/         core (mosaic_image), regions (RegionRequest -> RegionFinder.find(frame)),
               files (the image loop), video_stage (frames, steadied), video (checks, tags)
  remove/      restorer (load_restorer), core (remove_mosaics), files, video_stage, still
               (restorations held where block means did not move), video, faces_seen
  translate/   translator (a generator over a batch), tile_plan (within memory), files,
               evaluate (`eval`), gallery (an HTML page of inputs, outputs and targets)
  upscale/     upscaler, bands (large images), files, evaluate
  lock/        `add --lock-to` / `remove --unlock`: the original pixels of every region sealed
               into the output (or a sidecar) with a public key, and put back
  report/      record (`--report`: the detection report as JSON), sheet (`--report-sheet`)

Shared machinery
  video/       decode (is_media_file by content, VideoInput), encode (VideoOutput, EncodeOptions),
               pipeline (decode / frame stage / encode threads), job (atomic or resumable
               write), resume (segments), steady (boxes -> tracks, no pixels)
  image_io.py  load_image(path) -> frame + alpha (EXIF-upright); write_image(frame, path)
  mask_io.py   read_mask / write_mask / find_mask_file (--mask DIR)
  outputs.py   plan_outputs / plan_video_outputs: output names, never an input, no two
               inputs on one file; checked before anything is written
  encoding.py  save options that match the input (JPEG quality, subsampling)
  provenance.py  what a restored file says about itself (metadata record, `info`)
  make_pairs.py  `make-pairs`: mosaicked | clean training pairs from clean photos
  export_onnx.py `export`: a generator or the restorer as ONNX, checked with onnxruntime

The orchestration over many inputs (images vs videos, torchrun shares, checks before the
first write, results) is `mosaicgan.jobs`, above this package. Finding regions (faces, CAM,
mosaics) uses `mosaicgan.localize`; pure pixel operations are in `mosaicgan.ops`.
"""
