"""What the review step shows about an upload, computed once and kept beside it.

- `probe`: is it an image or a video, its size, frames, length, audio; refused (one line)
  when it does not decode or exceeds the limits. A browser-viewable copy of an image (JPEG,
  upright, as the jobs read it) is written as `.view.jpg` (upload names never start with '.').
- `faces`: every face the shipped detector finds at a low threshold (`REVIEW_THRESHOLD`),
  with its score, found once per upload and cached as `.faces.json`: the page's threshold
  slider only filters these (no second pass of the network for a slider move); in an image,
  what it shows at a threshold is what the job finds there (`_face_finder`). For a video, the
  same on a strip of key frames, as a preview.
- `mosaics`: the mosaics `remove` would find (the shipped detector), as boxes to outline.

These read files through the same readers as the jobs (so what the page shows is what the
job will see) but never write anything except the cached files in the upload's folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError

# Detections are kept down to this score; the slider cannot go lower. The job's own default
# is 0.35 (add --faces); a face scoring between 0.1 and 0.35 is one the user may want to add.
REVIEW_THRESHOLD = 0.1
KEYFRAMES = 8  # a video's strip
VIEW_SIDE = 1600  # longest side of the browser copies (the boxes stay in the file's pixels)


def probe(path: Path, *, max_pixels: int, max_video_seconds: float) -> dict:
    """{'kind': 'image'|'video', 'width', 'height'} (+ 'frames', 'fps', 'duration', 'audio' for a
    video); UserError when the file does not decode or exceeds a limit."""
    from mosaicgan.data.images import probe_image, read_image
    from mosaicgan.infer.video.io import VideoInput, is_media_file

    if is_media_file(path):
        with VideoInput(path) as video:
            info = video.info
            audio = any(s.type == "audio" for s in video.others)
        if info.width * info.height > max_pixels:
            raise UserError(f"video frames too large ({info.width} x {info.height}; limit "
                            f"{max_pixels / 1e6:g} megapixels, --max-megapixels)", path=path.name)
        if info.duration > max_video_seconds:
            raise UserError(f"video too long ({info.duration:.1f} s; limit {max_video_seconds:g} s, "
                            "--max-video-seconds)", path=path.name)
        return {"kind": "video", "width": info.width, "height": info.height, "frames": info.frames,
                "fps": round(float(info.rate), 3), "duration": round(info.duration, 3), "audio": audio}
    width, height = probe_image(path)
    if width * height > max_pixels:
        raise UserError(f"image too large ({width} x {height}; limit {max_pixels / 1e6:g} megapixels, "
                        "--max-megapixels)", path=path.name)
    image = read_image(path, mode="RGB")  # the whole file: a truncated image is refused now
    write_view(image, path.parent / ".view.jpg")
    return {"kind": "image", "width": width, "height": height}


def write_view(image, out: Path) -> Path:
    """A JPEG the browser shows (any input format), at most VIEW_SIDE on its longest side."""
    view = image.copy()
    view.thumbnail((VIEW_SIDE, VIEW_SIDE))
    with atomic_path(out) as tmp:
        view.convert("RGB").save(tmp, format="JPEG", quality=90)
    return out


def cached_faces(path: Path) -> dict | None:
    """What `faces` found for the upload at `path`, if it ran (None otherwise; nothing is computed)."""
    cache = path.parent / ".faces.json"
    return json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else None


def _cached(path: Path, compute) -> dict:
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    value = compute()
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value), encoding="utf-8")
    return value


def _face_finder(*, exact: bool = True):
    """frame -> [{'box': [x0, y0, x1, y1], 'score'}]: the faces a `add --faces` job finds at any
    threshold from REVIEW_THRESHOLD up, boxes as the job's Region reports them. exact: each
    scored by the highest threshold that still finds it (`FaceDetector.detect(every_threshold=
    True)`: one mirror window per candidate, which costs about two passes for a large face), so
    the slider shows exactly what the job finds in an image; otherwise the detector's own scores
    (a video's key frames: a preview, since the job follows faces between its searches anyway)."""
    from mosaicgan.infer.add.regions import RegionRequest
    from mosaicgan.infer.image_io import as_frame, to_rgb
    from mosaicgan.localize.faces.detect import face_box, shipped_detector

    job = RegionRequest(kind="faces")  # the job's defaults: smallest face, mirror scores
    detector = shipped_detector()

    def find(frame) -> list[dict]:
        rgb = to_rgb(as_frame(frame))
        height, width = rgb.shape[-2:]
        faces = detector.detect([rgb], threshold=REVIEW_THRESHOLD, min_face=job.min_face, flip=job.face_flip,
                                every_threshold=exact)[0]
        return [{"box": list(face_box(f, height=height, width=width)), "score": round(f.score, 6)} for f in faces]

    return find


def faces(path: Path, *, kind: str) -> dict:
    """The faces of an upload, cached: {'threshold': REVIEW_THRESHOLD, 'faces': [{'box':
    [x0, y0, x1, y1], 'score'}]} for an image; for a video {'threshold', 'keyframes':
    [{'index', 'time', 'faces': [...]}]} with each key frame's view written as .key-N.jpg."""
    def image_faces() -> dict:
        from mosaicgan.infer.image_io import load_image

        return {"threshold": REVIEW_THRESHOLD, "faces": _face_finder()(load_image(path).image)}

    def video_faces() -> dict:
        from PIL import Image

        from mosaicgan.infer.video.io import VideoInput

        finder = _face_finder(exact=False)
        with VideoInput(path) as video:
            duration, frames, rate = video.info.duration, video.info.frames, float(video.info.rate)
        count = max(1, min(KEYFRAMES, frames or KEYFRAMES))
        keyframes = []
        for k in range(count):
            time = duration * (k + 0.5) / count
            with VideoInput(path, start=time) as video:
                frame = next((f for _, f in video.frames()), None)
            if frame is None or frame.dtype.itemsize != 1:
                frame = None if frame is None else (frame >> 8).astype("uint8")
            if frame is None:
                continue
            write_view(Image.fromarray(frame), path.parent / f".key-{k}.jpg")
            keyframes.append({"index": k, "time": round(time, 3), "frame": int(round(time * rate)),
                              "faces": finder(frame)})
        return {"threshold": REVIEW_THRESHOLD, "keyframes": keyframes}

    return _cached(path.parent / ".faces.json", image_faces if kind == "image" else video_faces)


def mosaics(path: Path) -> dict:
    """The mosaics `remove` would find in an image, cached: {'boxes': [[x0, y0, x1, y1], ...]}."""
    def compute() -> dict:
        from mosaicgan.choices import DEFAULT_MOSAIC_DETECTOR
        from mosaicgan.infer.image_io import load_image, to_rgb
        from mosaicgan.localize.mosaics.detector import mosaic_detector

        _, found = mosaic_detector(DEFAULT_MOSAIC_DETECTOR)(to_rgb(load_image(path).image))
        return {"boxes": [list(mosaic.box) for mosaic in found]}

    return _cached(path.parent / ".mosaics.json", compute)
