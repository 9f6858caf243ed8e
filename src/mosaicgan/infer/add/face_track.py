"""Faces through a video for `add --faces` (the search thread of `video_stage`): which frames
are searched whole, which only near the faces already found, and which not at all.

- A whole-frame search (`RegionFinder.find_faces`; faces under 16 pixels proposed at 16 and
  confirmed in small windows) runs at the first frame, at each cut, once a pan or a zoom out
  has brought in more than NEW_PICTURE of the frame since the last one, and at the latest
  `detect_every` frames after it (for faces that appear inside the picture: a person turning
  round, walking in from behind something; the steadier covers them back to that search).
  Faces already followed need no mirror-image score in it, so a crowd costs little more than
  an empty street.
- Where a pan or a zoom out brings new picture in, the strips along the edges it came in at
  are searched once a twentieth of the frame is new (NEW_EDGES): a face walking or panned into
  the picture is found within a few frames, for a small part of a whole search.
- Between searches, in 1 frame of `follow_every`, the known faces are looked for where the
  camera's motion (`video.motion.SceneMotion`) has carried them (`RegionFinder.follow_faces`:
  one batch of small windows, about as costly for 10 faces as for 1 on a CPU). A face not found
  there is looked for again `patience` times, carried by the camera, then left to the next
  whole search.
- The other frames are not searched; the steadier fills them from the frames around.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mosaicgan.infer.add.regions import FoundFace, RegionFinder
from mosaicgan.infer.video.motion import SceneMotion, move_box
from mosaicgan.localize.faces.detect import shift_face
from mosaicgan.ops.masks import Box

# Share of the frame not seen at the last whole search that calls for another (a zoom out, a long
# pan: by then the edges were searched several times over), and at the last edge search that calls
# for one of the strips along the edges it came in at (a pan of 18 px a frame across 1280: every 4
# frames, each strip 64 + EDGE_MARGIN of the frame's height wide).
NEW_PICTURE = 0.5
NEW_EDGES = 0.05
EDGE_MARGIN = 0.15
# The strips are searched at full scale only EDGE_SMALL pixels into what was seen (faces up to
# that size standing across the old edge are whole there), and the rest of EDGE_MARGIN for faces
# from EDGE_COARSE pixels up, at a third of the scale (a ninth of the pixels): at 1080p a strip's
# full-scale part is 64 + the new picture wide instead of 162 + it.
EDGE_SMALL = 64
EDGE_COARSE = 48


@dataclass(frozen=True)
class Observation:
    """What the search of one frame found: `found` (each face and the box of the pixels its mask
    fills), `keys` (which face each is: the same key from frame to frame while the tracker
    follows it, so the steadier need not guess from overlaps), how ("search": the whole frame;
    "follow": near the known faces), and whether the frame starts a shot (a cut: nothing is
    carried over it)."""

    found: list[FoundFace]
    keys: list[int]
    how: str
    cut: bool

    @property
    def regions(self) -> list[Box]:
        return [f.region for f in self.found]


class FaceTracker:
    """`tracker(frame)` for each frame in order -> its `Observation`, or None for a frame that
    was neither searched nor followed (and starts no shot). detect_side: whole-frame searches
    on a copy scaled so its long side is at most this (0: full size)."""

    def __init__(self, finder: RegionFinder, *, detect_every: int, follow: bool = True, follow_every: int = 2,
                 detect_side: int = 0, patience: int = 2) -> None:
        self.finder, self.every, self.follow, self.follow_every = finder, detect_every, follow, follow_every
        self.side, self.patience = detect_side, patience
        self.scene = SceneMotion()
        self.known: list[tuple[tuple[float, float, float, float], int, int]] = []  # detector box, missed, key
        self.since = 0  # frames since the last whole search
        self.next_key = 0

    def __call__(self, frame: np.ndarray) -> Observation | None:
        motion = self.scene.update(frame)
        if motion.cut:
            self.known = []
        else:
            self.known = [(move_box(box, motion.matrix), missed, key) for box, missed, key in self.known]
        self.since += 1
        if motion.cut or self.since >= self.every or self.scene.moved_since_search() > NEW_PICTURE:
            found = self._search(frame)
            self.scene.searched()
            self.since = 0
            keys = self._keys(found)
            self.known = [(_box(f), 0, key) for f, key in zip(found, keys, strict=True)]
            return Observation(found, keys, "search", motion.cut)
        found, keys, how = [], [], ""
        if self.follow and self.known and self.since % self.follow_every == 0:
            found, keys, how = *self._follow(frame), "follow"
        if self.scene.moved_since_edges() > NEW_EDGES:
            for f in self._edges(frame):
                # New faces only: a part of a followed face cut by the strip's border is that face.
                if not any(_iou(_box(f), box) > 0.3 or _centre_in(_box(f), box) for box, _, _ in self.known):
                    found.append(f)
                    keys.append(self.next_key)
                    self.known.append((_box(f), 0, self.next_key))
                    self.next_key += 1
            how = how or "edges"
        return Observation(found, keys, how, False) if how else None

    def _follow(self, frame: np.ndarray) -> tuple[list[FoundFace], list[int]]:
        followed = self.finder.follow_faces(frame, [box for box, _, _ in self.known])
        known, found, keys = [], [], []
        for (box, missed, key), hit in zip(self.known, followed, strict=True):
            if hit is not None and not any(_iou(_box(hit), _box(f)) > 0.5 for f in found):
                found.append(hit)  # two tracks that closed on one face become one
                keys.append(key)
                known.append((_box(hit), 0, key))
            elif hit is None and missed < self.patience:
                known.append((box, missed + 1, key))
        self.known = known
        return found, keys

    def _edges(self, frame: np.ndarray) -> list[FoundFace]:
        """Faces in the strips of new picture along the frame's edges."""
        height, width = frame.shape[:2]
        wide = round(EDGE_MARGIN * height)
        passes = [(self.scene.new_edges(margin=min(EDGE_SMALL, wide)), None)]
        if wide > EDGE_SMALL:
            passes.append((self.scene.new_edges(margin=wide), float(EDGE_COARSE)))
        self.scene.edges_searched()
        found = []
        for strips, min_face in passes:
            for x0, y0, x1, y1 in strips:
                if x1 - x0 < 32 or y1 - y0 < 32:
                    continue
                for f in self.finder.find_faces(np.ascontiguousarray(frame[y0:y1, x0:x1]), min_face=min_face):
                    face = shift_face(f.face, dx=x0, dy=y0)
                    if not any(_iou(_box_of(face), _box(g)) > 0.3 for g in found):
                        found.append(self.finder.found_face(face, height=height, width=width))
        return found

    def _keys(self, found: list[FoundFace]) -> list[int]:
        """Keys for the faces of a whole search: a known face's (where it was expected) or new."""
        keys, taken = [], set()
        for f in found:
            best = max(((_iou(_box(f), box), key) for box, _, key in self.known if key not in taken), default=(0, None))
            if best[0] > 0.3:
                keys.append(best[1])
                taken.add(best[1])
            else:
                keys.append(self.next_key)
                self.next_key += 1
        return keys

    def _search(self, frame: np.ndarray) -> list[FoundFace]:
        known = [box for box, _, _ in self.known]
        height, width = frame.shape[:2]
        scale = self.side / max(height, width) if self.side else 1.0
        if scale >= 1.0:
            return self.finder.find_faces(frame, known=known)
        small = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        found = self.finder.find_faces(small, known=[tuple(v * scale for v in b) for b in known])
        return [self.finder.found_face(shift_face(f.face, dx=0, dy=0, scale=1 / scale), height=height, width=width)
                for f in found]


def _box(found: FoundFace) -> tuple[float, float, float, float]:
    return _box_of(found.face)


def _box_of(f) -> tuple[float, float, float, float]:
    return f.x0, f.y0, f.x1, f.y1


def _centre_in(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    cx, cy = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
