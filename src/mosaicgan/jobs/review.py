"""What a job would act on, found without writing anything: the review step of a front end
(the web page shows it before the user applies a job). Each reads files through the same
readers as the jobs, so what is shown is what the job will see.

- `probe`: an image's or a video's size (and a video's frames, rate, length, audio).
- `picture`: an image as the jobs read it (upright, RGB), for a view.
- `faces_in_image`: every face the shipped detector finds from `threshold` up, each scored by
  the highest threshold that still finds it, so filtering these by a threshold gives what an
  `add --faces` job at that threshold finds.
- `faces_in_keyframes`: the same on a few frames spread over a video (a preview: the job follows
  faces between its searches).
- `mosaics_in_image`: the mosaics `remove` would find.
- `checkpoints`: the checkpoints in a folder, by what they do (translate, upscale), read from
  their metadata alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mosaicgan.errors import UserError


def probe(path: Path) -> dict:
    """{'kind': 'image'|'video', 'width', 'height'} (+ 'frames', 'fps', 'duration', 'audio' for a
    video); UserError naming the file when it does not decode."""
    from mosaicgan.data.images import probe_image
    from mosaicgan.infer.video.decode import VideoInput, is_media_file

    if is_media_file(path):
        with VideoInput(path) as video:
            info = video.info
            audio = any(s.type == "audio" for s in video.others)
        return {"kind": "video", "width": info.width, "height": info.height, "frames": info.frames,
                "fps": round(float(info.rate), 3), "duration": round(info.duration, 3), "audio": audio}
    width, height = probe_image(path)
    return {"kind": "image", "width": width, "height": height}


def picture(path: Path):
    """The image at `path` as the jobs read it: a PIL image, upright, RGB (the whole file is
    decoded, so a truncated image is refused here)."""
    from mosaicgan.data.images import read_image

    return read_image(path, mode="RGB")


def _face_finder(threshold: float, *, exact: bool):
    from mosaicgan.infer.add.regions import RegionRequest
    from mosaicgan.infer.image_io import as_frame, to_rgb
    from mosaicgan.localize.faces.detect import face_box, shipped_detector

    job = RegionRequest(kind="faces")  # the job's defaults: smallest face, mirror scores
    detector = shipped_detector()

    def find(frame) -> list[dict]:
        rgb = to_rgb(as_frame(frame))
        height, width = rgb.shape[-2:]
        found = detector.detect([rgb], threshold=threshold, min_face=job.min_face, flip=job.face_flip,
                                every_threshold=exact)[0]
        return [{"box": list(face_box(f, height=height, width=width)), "score": round(f.score, 6)} for f in found]

    return find


def faces_in_image(path: Path, *, threshold: float) -> list[dict]:
    """[{'box': [x0, y0, x1, y1], 'score'}]: every face from `threshold` up, each scored by the
    highest threshold that still finds it (`FaceDetector.detect(every_threshold=True)`: about two
    more passes for a large face), boxes as an `add --faces` job reports them."""
    from mosaicgan.infer.image_io import load_image

    return _face_finder(threshold, exact=True)(load_image(path).image)


def faces_in_keyframes(path: Path, *, threshold: float, count: int) -> list[dict]:
    """[{'index', 'time', 'frame' (its number), 'image' (H, W, 3) uint8, 'faces': [...]}] for
    `count` frames spread over the video, with the detector's own scores."""
    from mosaicgan.infer.video.decode import VideoInput

    find = _face_finder(threshold, exact=False)
    with VideoInput(path) as video:
        duration, frames, rate = video.info.duration, video.info.frames, float(video.info.rate)
    count = max(1, min(count, frames or count))
    keyframes = []
    for k in range(count):
        time = duration * (k + 0.5) / count
        with VideoInput(path, start=time) as video:
            frame = next((f for _, f in video.frames()), None)
        if frame is None:
            continue
        if frame.dtype.itemsize != 1:
            frame = (frame >> 8).astype(np.uint8)
        keyframes.append({"index": k, "time": round(time, 3), "frame": int(round(time * rate)), "image": frame,
                          "faces": find(frame)})
    return keyframes


def mosaics_in_image(path: Path) -> list[list[int]]:
    """The boxes [x0, y0, x1, y1] of the mosaics `remove` (its default detector) finds."""
    from mosaicgan.choices import DEFAULT_MOSAIC_DETECTOR
    from mosaicgan.infer.image_io import load_image, to_rgb
    from mosaicgan.localize.mosaics.detector import mosaic_detector

    _, found = mosaic_detector(DEFAULT_MOSAIC_DETECTOR)(to_rgb(load_image(path).image))
    return [list(mosaic.box) for mosaic in found]


def checkpoints(folder: Path | None) -> dict[str, list[dict]]:
    """{'translate': [{'value', 'label', 'directions'}], 'upscale': [...]}: the .safetensors files
    and run folders of `folder` (one level), from their metadata only; `value` is the name in
    `folder`. Files that are not checkpoints are left out."""
    from mosaicgan.checkpoint import read_metadata
    from mosaicgan.models import MODELS

    found: dict[str, list[dict]] = {"translate": [], "upscale": []}
    if folder is None:
        return found
    candidates = sorted(folder.glob("*.safetensors")) + sorted(p for p in folder.iterdir() if p.is_dir())
    for path in candidates:
        try:
            meta = read_metadata(path)
        except UserError:
            continue
        kind = meta["kind"]
        spec = MODELS.get(kind)
        entry = {"value": path.name, "label": f"{path.name} ({kind})"}
        if spec is not None and spec.generators:
            found["translate"].append({**entry, "directions": sorted(spec.generators)})
        elif kind == "srgan":
            scale = json.loads(meta.get("config", "{}")).get("srgan", {}).get("scale")
            found["upscale"].append({**entry, "label": f"{path.name} (srgan x{scale})" if scale else entry["label"]})
    return found
