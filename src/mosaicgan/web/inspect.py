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

The finding itself is `mosaicgan.jobs.review` (the same readers as the jobs, so what the page
shows is what the job will see); this module adds the limits, the browser views and the cache,
and never writes anything but those files in the upload's folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError
from mosaicgan.jobs import review

# Detections are kept down to this score; the slider cannot go lower. The job's own default
# is 0.35 (add --faces); a face scoring between 0.1 and 0.35 is one the user may want to add.
REVIEW_THRESHOLD = 0.1
KEYFRAMES = 8  # a video's strip
VIEW_SIDE = 1600  # longest side of the browser copies (the boxes stay in the file's pixels)


def probe(path: Path, *, max_pixels: int, max_video_seconds: float) -> dict:
    """`jobs.review.probe`, within the limits; an image's view is written as `.view.jpg`."""
    info = review.probe(path)
    width, height = info["width"], info["height"]
    what = "video frames" if info["kind"] == "video" else "image"
    if width * height > max_pixels:
        raise UserError(f"{what} too large ({width} x {height}; limit {max_pixels / 1e6:g} megapixels, "
                        "--max-megapixels)", path=path.name)
    if info["kind"] == "video":
        if info["duration"] > max_video_seconds:
            raise UserError(f"video too long ({info['duration']:.1f} s; limit {max_video_seconds:g} s, "
                            "--max-video-seconds)", path=path.name)
        return info
    write_view(review.picture(path), path.parent / ".view.jpg")
    return info


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


def faces(path: Path, *, kind: str) -> dict:
    """The faces of an upload, cached: {'threshold': REVIEW_THRESHOLD, 'faces': [{'box':
    [x0, y0, x1, y1], 'score'}]} for an image; for a video {'threshold', 'keyframes':
    [{'index', 'time', 'faces': [...]}]} with each key frame's view written as .key-N.jpg."""
    def image_faces() -> dict:
        return {"threshold": REVIEW_THRESHOLD, "faces": review.faces_in_image(path, threshold=REVIEW_THRESHOLD)}

    def video_faces() -> dict:
        from PIL import Image

        keyframes = review.faces_in_keyframes(path, threshold=REVIEW_THRESHOLD, count=KEYFRAMES)
        for key in keyframes:
            write_view(Image.fromarray(key.pop("image")), path.parent / f".key-{key['index']}.jpg")
        return {"threshold": REVIEW_THRESHOLD, "keyframes": keyframes}

    return _cached(path.parent / ".faces.json", image_faces if kind == "image" else video_faces)


def mosaics(path: Path) -> dict:
    """The mosaics `remove` would find in an image, cached: {'boxes': [[x0, y0, x1, y1], ...]}."""
    def compute() -> dict:
        return {"boxes": review.mosaics_in_image(path)}

    return _cached(path.parent / ".mosaics.json", compute)
