"""`remove` over video files: checks before anything is written, provenance tags; the write
itself is `video_job.write_video` with the frame stage of `video_restore` (the same
atomic or resumable write, timing, audio and rotation handling as `add`).

The container's tags say that the file was restored by mosaicgan, by which restorer, and that
the restored regions are synthesized, not recovered (`comment`, which every container keeps,
and the JSON record of `provenance` under `mosaicgan`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from mosaicgan.errors import UserError
from mosaicgan.infer.mask_io import find_mask_file, read_mask
from mosaicgan.infer.provenance import provenance_record
from mosaicgan.infer.remove.restorer import Restorer
from mosaicgan.infer.remove.video_stage import RemoveVideoOptions, restore_stage
from mosaicgan.infer.video.decode import VideoInput
from mosaicgan.infer.video.encode import EncodeOptions, check_frame_size, output_format
from mosaicgan.infer.video.job import check_span, write_video
from mosaicgan.infer.video.pipeline import VideoResult
from mosaicgan.localize.mosaics.detector import mosaic_detector

__all__ = ["RemoveVideoOptions", "check_remove_video", "remove_mosaic_video", "remove_tags"]


def remove_tags(*, restorer: Restorer, options: RemoveVideoOptions, mask: Path | None, source: str,
                detector: str | None = None) -> dict[str, str]:
    """Container metadata of a restored video."""
    from mosaicgan import __version__

    record = provenance_record(restorer=restorer.describe(), regions=[], source=source, medium="video")
    del record["regions"]  # not known when the header is written; the settings say how they were found
    record["video"] = {"where": "a mask file" if mask is not None else "found per frame",
                       "grid": None if options.grid is None else options.grid.to_dict(),
                       "grow": options.grow, "feather": options.feather,
                       "steady": ({**options.tracking.describe(), "tolerance": options.tolerance}
                                  if options.tracking.steady else False)}
    if detector is not None and mask is None:
        record["video"]["detector"] = detector
    return {"comment": f"mosaicgan {__version__} remove: restored with {restorer.name}. {record['statement']}",
            "encoder": f"mosaicgan {__version__}", "mosaicgan": json.dumps(record, sort_keys=True)}


def check_remove_video(path: Path, out: Path, *, options: RemoveVideoOptions, mask: Path | None,
                       encode: EncodeOptions, start: float = 0.0, duration: float | None = None,
                       resume: bool = False) -> torch.Tensor | None:
    """What can be known wrong before anything is written: the file decodes, the mask fits its
    frames and covers something, the output container takes the codec, the options. Returns
    the mask (H, W) in [0, 1], or None."""
    options.check()
    check_span(start=start, duration=duration, resume=resume, encode=encode, out=out)
    with VideoInput(path, start=start, duration=duration) as src:
        check_frame_size(encode, output_format(out), src.info, path=path)
        size = (src.info.width, src.info.height)
    if mask is None:
        return None
    if not mask.exists():
        raise UserError("no such mask file or folder", path=mask)
    mask_path = find_mask_file(mask, path)
    loaded = read_mask(mask_path, size=size, what=f"the video ({path.name})")
    if not bool((loaded > 0.5).any()):
        raise UserError(f"mask of {path.name} covers nothing (white = region)", path=mask_path)
    return loaded


def remove_mosaic_video(path: Path, out: Path, *, restorer: Restorer,
                        options: RemoveVideoOptions = RemoveVideoOptions(),
                        mask: Path | None = None, encode: EncodeOptions = EncodeOptions(), start: float = 0.0,
                        duration: float | None = None, metadata: dict[str, str] | None = None, progress=None,
                        resume: bool = False, detector: str | None = None) -> VideoResult:
    """Restore the mosaics of every frame of the video `path` into `out` (atomically, or in
    resumable segments). mask: a mask file (or a folder with NAME.png) for every frame; None:
    find the mosaics: with `detector` ("net" or "grid", `localize.mosaics.detector.mosaic_detector`)
    in the frames searched whole, None: the classical finder). A video where nothing is restored
    is not written (result.written False)."""
    loaded = check_remove_video(path, out, options=options, mask=mask, encode=encode, start=start,
                                duration=duration, resume=resume)
    if metadata is None:
        metadata = remove_tags(restorer=restorer, options=options, mask=mask, source=path.name, detector=detector)
    detect = None if detector is None or mask is not None else mosaic_detector(detector, device=restorer.device)
    settings = {"command": "remove", "restorer": restorer.describe(), "encode": asdict(encode), "detector": detector,
                "options": repr(options), "mask": None if mask is None else str(find_mask_file(mask, path).resolve())}
    return write_video(path, out, make_stage=lambda result: restore_stage(restorer=restorer, options=options,
                                                                          mask=loaded, path=path, result=result,
                                                                          detect=detect),
                       encode=encode, settings=settings, start=start, duration=duration, metadata=metadata,
                       progress=progress, resume=resume)
