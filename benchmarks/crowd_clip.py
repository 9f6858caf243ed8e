"""Crowd clips for the face-video benchmarks: real photos of people (../shared/data, the faces
hand-boxed in benchmarks/faces_boxes.json) laid out on a canvas and filmed by a moving camera,
with pans, zooms and cuts, at any frame size. Every frame's face boxes are known (the labelled
boxes carried through the camera's view), so `video_face_cover.py --crowd` can score a run.

Two clips, from different photos and camera paths:
- "crowd": the clip the face path was tuned on (13 faces in the first shot, 18 to 190 pixels
  wide at 720p; a pan, a cut to a zoom, a cut to a fast pan back);
- "crowd-b": held out (other photos, other moves: a slow zoom out, a vertical pan, a cut, a
  shaking hand-held shot), for checking that what was tuned on "crowd" holds elsewhere.

    PYTHONPATH=src .venv/bin/python benchmarks/crowd_clip.py --name crowd --size 1280 720 --out /tmp/crowd.mp4

A shot is a canvas (rows of photos, each row scaled to one height) and a camera path: the
view's centre and width in canvas pixels at the shot's first and last frame, interpolated
linearly (with an optional shake). The view keeps the output's aspect ratio; the frame is the
view resized to the output size.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
PHOTOS = next((p / "shared" / "data" for p in HERE.parents[1:3] if (p / "shared" / "data").is_dir()),
              HERE.parents[1] / "shared" / "data")
BOXES = HERE / "faces_boxes.json"

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Shot:
    """rows: photo names per row; row_height: canvas pixels of each row; frames: length;
    start/end: (centre x, centre y, view width) in canvas pixels; shake: pixels of hand-held
    wobble (a fixed pseudo-random path)."""

    rows: tuple[tuple[str, ...], ...]
    row_height: int
    frames: int
    start: tuple[float, float, float]
    end: tuple[float, float, float]
    shake: float = 0.0


CLIPS: dict[str, tuple[Shot, ...]] = {
    "crowd": (
        # Two rows of groups, panned left to right (about 18 px a frame at 720p).
        Shot(rows=(("coral_test_data/face.jpg", "coral_test_data/posenet/test_image.bmp", "BSD68/157055.png",
                    "BSD68/229036.png"),
                   ("BSD68/216081.png", "Urban100/img_037.jpg", "Set14/barbara.png", "BSD68/271035.png")),
             row_height=540, frames=45, start=(960, 540, 1920), end=(2150, 540, 1920)),
        # Cut: one row, the camera zooming in on a group (faces grow about 2x).
        Shot(rows=(("BSD68/229036.png", "coral_test_data/face.jpg", "BSD68/157055.png"),),
             row_height=1080, frames=40, start=(1250, 540, 3000), end=(1250, 420, 1500)),
        # Cut: back to the two rows, a fast pan right to left (about 45 px a frame at 720p), zooming out a little.
        Shot(rows=(("coral_test_data/face.jpg", "coral_test_data/posenet/test_image.bmp", "BSD68/157055.png",
                    "BSD68/229036.png"),
                   ("BSD68/216081.png", "Urban100/img_037.jpg", "Set14/barbara.png", "BSD68/271035.png")),
             row_height=540, frames=40, start=(2400, 540, 1700), end=(1150, 560, 2000)),
    ),
    "crowd-b": (
        # A slow zoom out over two rows of portraits and small far faces.
        Shot(rows=(("Set14/man.png", "Set14/foreman.png", "Set5/woman.png", "coral_test_data/squat.bmp"),
                   ("Urban100/img_007.jpg", "BSD68/299086.png", "BSD68/300091.png")),
             row_height=540, frames=50, start=(1100, 520, 1400), end=(1500, 540, 2400)),
        # Cut: a vertical pan down a column of rows (riders, a violinist, a tower face, close-ups).
        Shot(rows=(("BSD68/220075.png", "BSD68/119082.png"), ("Urban100/img_009.jpg", "BSD68/302008.png"),
                   ("coral_test_data/grace_hopper.bmp", "BSD68/189080.png")),
             row_height=600, frames=40, start=(800, 450, 1600), end=(800, 1350, 1600)),
        # Cut: hand-held, shaking, on a group and a street scene.
        Shot(rows=(("Urban100/img_095.jpg", "coral_test_data/face.jpg", "BSD68/216081.png"),),
             row_height=900, frames=35, start=(1400, 450, 1600), end=(1700, 470, 1500), shake=12.0),
    ),
}


@dataclass
class CrowdClip:
    path: Path
    size: tuple[int, int]
    faces: list[list[Box]] = field(default_factory=list)  # per frame, the labelled faces inside the frame
    face_ids: list[list[str]] = field(default_factory=list)  # per frame, which face each is ("shot:n")
    ignore: list[list[Box]] = field(default_factory=list)  # per frame, regions neither required nor false
    cuts: list[int] = field(default_factory=list)  # first frame of each shot after the first


def load_boxes(path: Path = BOXES) -> dict[str, dict[str, list[list[int]]]]:
    data = json.loads(path.read_text())["people"]
    return {name: {"faces": e.get("faces", []), "ignore": e.get("ignore", [])} for name, e in data.items()}


def build_canvas(shot: Shot, *, photos: Path, labels: dict) -> tuple[np.ndarray, list[Box], list[Box]]:
    """The shot's canvas (H, W, 3) uint8 and its face and ignore boxes in canvas pixels."""
    rows, faces, ignore = [], [], []
    for r, names in enumerate(shot.rows):
        x = 0
        parts = []
        for name in names:
            image = Image.open(photos / name).convert("RGB")
            s = shot.row_height / image.height
            width = round(image.width * s)
            parts.append(np.asarray(image.resize((width, shot.row_height), Image.LANCZOS)))
            y = r * shot.row_height
            for key, out in (("faces", faces), ("ignore", ignore)):
                for x0, y0, x1, y1 in labels.get(name, {}).get(key, []):
                    out.append((x + x0 * s, y + y0 * s, x + x1 * s, y + y1 * s))
            x += width
        rows.append(np.concatenate(parts, axis=1))
    width = max(r.shape[1] for r in rows)
    canvas = np.zeros((shot.row_height * len(rows), width, 3), np.uint8)
    for r, row in enumerate(rows):
        canvas[r * shot.row_height:(r + 1) * shot.row_height, :row.shape[1]] = row
    return canvas, faces, ignore


def view_at(shot: Shot, t: int, *, aspect: float) -> tuple[float, float, float, float]:
    """(x0, y0, width, height) of the view at frame t of the shot, in canvas pixels."""
    a = t / max(1, shot.frames - 1)
    cx, cy, w = (s + (e - s) * a for s, e in zip(shot.start, shot.end, strict=True))
    if shot.shake:
        cx += shot.shake * (math.sin(1.7 * t) + 0.5 * math.sin(4.1 * t + 1.0))
        cy += shot.shake * (math.cos(2.3 * t) + 0.5 * math.sin(3.7 * t + 2.0))
    h = w / aspect
    return cx - w / 2, cy - h / 2, w, h


def render(canvas: np.ndarray, view: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
    """The view of the canvas at the output size (black outside the canvas)."""
    x0, y0, w, h = view
    sx, sy = size[0] / w, size[1] / h
    matrix = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], dtype=np.float64)
    # Shrinking: average over the source pixels first (as a camera would), then place.
    if sx < 1:
        small = cv2.resize(canvas, (max(1, round(canvas.shape[1] * sx)), max(1, round(canvas.shape[0] * sy))),
                           interpolation=cv2.INTER_AREA)
        matrix = np.array([[1, 0, -x0 * sx], [0, 1, -y0 * sy]], dtype=np.float64)
        return cv2.warpAffine(small, matrix, size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    return cv2.warpAffine(canvas, matrix, size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def to_frame(boxes: list[Box], view: tuple[float, float, float, float], size: tuple[int, int]) -> list[Box]:
    """Canvas boxes in frame pixels, cut to the frame; those with less than half inside are left out."""
    return [b for _, b in to_frame_indexed(boxes, view, size)]


def to_frame_indexed(boxes: list[Box], view: tuple[float, float, float, float],
                     size: tuple[int, int]) -> list[tuple[int, Box]]:
    """`to_frame`, each box with its index in `boxes`."""
    x0, y0, w, h = view
    sx, sy = size[0] / w, size[1] / h
    out = []
    for k, b in enumerate(boxes):
        fb = ((b[0] - x0) * sx, (b[1] - y0) * sy, (b[2] - x0) * sx, (b[3] - y0) * sy)
        cut = (max(0.0, fb[0]), max(0.0, fb[1]), min(size[0], fb[2]), min(size[1], fb[3]))
        area = (fb[2] - fb[0]) * (fb[3] - fb[1])
        inside = max(0.0, cut[2] - cut[0]) * max(0.0, cut[3] - cut[1])
        if area > 0 and inside >= 0.5 * area:
            out.append((k, cut))
    return out


def make_crowd_clip(path: Path, *, name: str = "crowd", size: tuple[int, int] = (1280, 720), fps: int = 25,
                    photos: Path = PHOTOS, crf: int = 18) -> CrowdClip:
    """Write the clip `name` (H.264 in MP4, no audio) and return its per-frame boxes."""
    labels = load_boxes()
    clip = CrowdClip(path=path, size=size)
    out = av.open(str(path), "w")
    stream = out.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
    stream.codec_context.time_base = Fraction(1, fps)
    stream.options = {"crf": str(crf), "preset": "veryfast"}
    index = 0
    for k, shot in enumerate(CLIPS[name]):
        if k:
            clip.cuts.append(index)
        canvas, faces, ignore = build_canvas(shot, photos=photos, labels=labels)
        for t in range(shot.frames):
            view = view_at(shot, t, aspect=size[0] / size[1])
            frame = av.VideoFrame.from_ndarray(render(canvas, view, size), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
            seen = to_frame_indexed(faces, view, size)
            clip.faces.append([b for _, b in seen])
            clip.face_ids.append([f"{k}:{i}" for i, _ in seen])
            clip.ignore.append(to_frame(ignore, view, size))
            index += 1
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return clip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", choices=sorted(CLIPS), default="crowd")
    p.add_argument("--size", type=int, nargs=2, default=[1280, 720], metavar=("W", "H"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--photos", type=Path, default=PHOTOS)
    args = p.parse_args()
    clip = make_crowd_clip(args.out, name=args.name, size=tuple(args.size), photos=args.photos)
    sizes = [b[2] - b[0] for f in clip.faces for b in f]
    print(f"{args.out}: {len(clip.faces)} frames, cuts at {clip.cuts}, {sum(map(len, clip.faces))} face-frames, "
          f"up to {max(map(len, clip.faces))} faces a frame, {min(sizes):.0f}-{max(sizes):.0f} px wide")


if __name__ == "__main__":
    main()
