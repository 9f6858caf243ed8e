"""Steady regions over time: boxes found frame by frame become tracks, smoothed over a window,
with short misses bridged, so a video mosaic neither flickers nor jumps.

A detector's boxes wobble by a few pixels from frame to frame even on a still face, and it
misses a face now and then (motion blur, a turned head). Mosaicked frame by frame, that is a
shimmering mosaic and a face that shows for a frame. `Steadier` takes each frame's boxes (or
None for a frame that was not searched), links them to tracks by overlap, and gives each
frame's boxes back `delay` frames later:
- a track covers frame t when it was seen within `bridge` frames of t (before or after), so a
  miss of up to 2 x bridge frames in a row is bridged, and a face is covered `bridge` frames
  before it is first found and after it is last found (for privacy a late cover is the worse
  mistake);
- its centre at t is a straight-line fit to its centres seen within `window` frames of t
  (no lag on steady motion, jitter averaged out), its size the largest seen in that window
  (never smaller than what the detector saw), rounded outwards to whole pixels.
A cut (`push(..., cut=True)` at the first frame of a new shot) ends every track: no box is
carried over it either way, and a face of the new shot is not covered before it. Each track
has an id (1, 2, 3... in the order they start), so a caller can say which face a box is.
Nothing here touches pixels; masks are made from the boxes by the caller.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from mosaicgan.errors import UserError
from mosaicgan.localize.boxes import box_iou
from mosaicgan.ops.masks import Box


@dataclass(frozen=True)
class TrackingOptions:
    """How regions are followed across a video's frames; `add` and `remove` share it.

    steady=False: each frame gets its own region (no tracks, no smoothing). detect_every: the
    whole frame is searched 1 frame in N (the frames between come from the tracks). window:
    frames either side whose boxes smooth a track's box. bridge: a track covers the frames
    within this many frames of one where it was seen (misses of up to 2 x bridge frames in a
    row stay covered); at least detect_every - 1 is used (`reach`).
    """

    steady: bool = True
    detect_every: int = 8
    window: int = 4
    bridge: int = 4

    @property
    def reach(self) -> int:
        """The bridge in force: a region first found by one search is covered back to the
        search before it, so no frame between two searches goes uncovered."""
        return max(self.bridge, self.detect_every - 1)

    def check(self) -> None:
        if self.window < 0 or self.bridge < 0:
            raise UserError(f"--window and --bridge must be >= 0, got {self.window} and {self.bridge}")
        if self.detect_every < 1:
            raise UserError(f"--detect-every must be >= 1, got {self.detect_every}")

    def describe(self) -> dict | bool:
        """The settings a video's provenance records (False: frame by frame)."""
        if not self.steady:
            return False
        return {"window": self.window, "bridge": self.bridge, "detect_every": self.detect_every}


@dataclass
class Track:
    seen: dict[int, Box] = field(default_factory=dict)
    last: int = -1
    id: int = 0  # 1, 2, ... in the order tracks start: the detection report's track ids
    shot: int = 0
    key: object = None  # the caller's name for it (a detector that follows faces knows which is which)
    scores: dict[int, float] = field(default_factory=dict)  # frame -> the detector's score, where given


@dataclass(frozen=True)
class TrackBox:
    """A steadied box of one frame: the track it belongs to, whether that track was seen in this
    very frame (False: smoothed or bridged from frames around it), and the detector's score
    there (None where not seen, or not given)."""

    track: int
    box: Box
    seen: bool
    score: float | None = None


class Steadier:
    """Streaming: `push(t, boxes)` for t = 0, 1, 2, ... returns the frames now final, as
    [(t', boxes)], in order; `flush()` returns the rest. size: (width, height) to clip to.
    `push_tracks` / `flush_tracks`: the same frames with each box's track (`TrackBox`).
    labels=True: `labels(t')` then says, for each box of a frame given by `push`/`flush`, (its
    track's id, whether the track was seen in that frame itself), e.g. for --keep-track and the
    detection report."""

    def __init__(self, *, window: int = 5, bridge: int = 5, size: tuple[int, int], min_iou: float = 0.1,
                 labels: bool = False) -> None:
        if window < 0 or bridge < 0:
            raise ValueError(f"window and bridge must be >= 0, got {window}, {bridge}")
        self.window, self.bridge, self.size, self.min_iou = window, bridge, size, min_iou
        self.delay = max(window, bridge)
        self.tracks: list[Track] = []
        self.pending: deque[int] = deque()
        self.next_out = 0
        self.started = 0  # tracks started so far (the last id given)
        self.shot_starts = [0]  # first frame of each shot
        self._labels: dict[int, list[tuple[int, bool]]] | None = {} if labels else None

    def labels(self, t: int) -> list[tuple[int, bool]]:
        """(track id, seen in frame t) for each box given for frame t, in order (once per frame)."""
        return self._labels.pop(t, []) if self._labels is not None else []

    def push(self, t: int, boxes: list[Box] | None, *, cut: bool = False) -> list[tuple[int, list[Box]]]:
        return [self._boxes(s, found) for s, found in self.push_tracks(t, boxes, cut=cut)]

    def flush(self) -> list[tuple[int, list[Box]]]:
        return [self._boxes(s, found) for s, found in self.flush_tracks()]

    def _boxes(self, s: int, found: list[TrackBox]) -> tuple[int, list[Box]]:
        if self._labels is not None:
            self._labels[s] = [(b.track, b.seen) for b in found]
        return s, [b.box for b in found]

    def push_tracks(self, t: int, boxes: list[Box] | None, *, cut: bool = False, keys: list | None = None,
                    scores: list[float] | None = None) -> list[tuple[int, list[TrackBox]]]:
        """keys: the caller's name for each box's face, where it knows which is which (a video
        follower that moved a face's window with the camera): a box joins the live track of its
        key whatever their overlap (a small face in a fast pan overlaps nothing it was).
        scores: the detector's score of each box, handed back with the frame's `TrackBox`."""
        if cut and t > self.shot_starts[-1]:
            self.shot_starts.append(t)
        if boxes:
            self._link(t, boxes, keys, scores)
        self.pending.append(t)
        ready = []
        while self.pending and t - self.pending[0] >= self.delay:
            ready.append(self._emit(self.pending.popleft()))
        self._forget(t)
        return ready

    def flush_tracks(self) -> list[tuple[int, list[TrackBox]]]:
        ready = [self._emit(s) for s in self.pending]
        self.pending.clear()
        return ready

    def _shot(self, t: int) -> int:
        return bisect.bisect_right(self.shot_starts, t) - 1

    def _link(self, t: int, boxes: list[Box], keys: list | None = None, scores: list[float] | None = None) -> None:
        # By key where the caller gave one; the others greedy by overlap with each live track's
        # last box; a box that overlaps none, or whose centre lies in none, starts a track.
        # Tracks of an earlier shot are over.
        shot = self._shot(t)
        live = [k for k, tr in enumerate(self.tracks) if t - tr.last <= 2 * self.bridge + 1 and tr.shot == shot]
        keys = keys if keys is not None else [None] * len(boxes)
        pairs = []
        by_key = {self.tracks[k].key: k for k in live if self.tracks[k].key is not None}
        for i, key in enumerate(keys):
            if key is not None and key in by_key:
                pairs.append((2.0, i, by_key[key]))  # before any overlap
        for i, box in enumerate(boxes):
            if keys[i] is not None:
                continue
            for k in live:
                prev = self.tracks[k].seen[self.tracks[k].last]
                score = box_iou(box, prev)
                if score >= self.min_iou or _inside(_centre(box), prev):
                    pairs.append((score, i, k))
        used_b, used_t = set(), set()
        for _, i, k in sorted(pairs, reverse=True):
            if i in used_b or k in used_t:
                continue
            used_b.add(i)
            used_t.add(k)
            self.tracks[k].seen[t] = boxes[i]
            self.tracks[k].last = t
            if scores is not None:
                self.tracks[k].scores[t] = scores[i]
        for i, box in enumerate(boxes):
            if i not in used_b:
                self.started += 1
                self.tracks.append(Track(seen={t: box}, last=t, id=self.started, shot=shot, key=keys[i],
                                         scores={t: scores[i]} if scores is not None else {}))

    def _forget(self, t: int) -> None:
        oldest = self.pending[0] if self.pending else t
        keep = oldest - max(self.window, self.bridge) - 1
        for tr in self.tracks:
            for s in [s for s in tr.seen if s < keep]:
                del tr.seen[s]
                tr.scores.pop(s, None)
        self.tracks = [tr for tr in self.tracks if tr.seen]

    def _emit(self, s: int) -> tuple[int, list[TrackBox]]:
        out = []
        shot = self._shot(s)
        for tr in self.tracks:
            if tr.shot == shot and any(abs(u - s) <= self.bridge for u in tr.seen):
                out.append(TrackBox(tr.id, self._smooth(tr, s), s in tr.seen, tr.scores.get(s)))
        return s, out

    def _smooth(self, tr: Track, s: int) -> Box:
        times = sorted(u for u in tr.seen if abs(u - s) <= self.window)
        if len(times) < 2:  # too few in the window for a line: the two seen nearest to s
            times = sorted(sorted(tr.seen, key=lambda u: abs(u - s))[:2])
        boxes = np.array([tr.seen[u] for u in times], dtype=np.float64)
        cx = (boxes[:, 0] + boxes[:, 2]) / 2
        cy = (boxes[:, 1] + boxes[:, 3]) / 2
        w = (boxes[:, 2] - boxes[:, 0]).max()
        h = (boxes[:, 3] - boxes[:, 1]).max()
        if len(times) >= 2:
            ts = np.array(times, dtype=np.float64)
            cx_s = np.polyval(np.polyfit(ts, cx, 1), s)
            cy_s = np.polyval(np.polyfit(ts, cy, 1), s)
        else:
            cx_s, cy_s = cx[0], cy[0]
        width, height = self.size
        x0 = max(0, math.floor(cx_s - w / 2))
        y0 = max(0, math.floor(cy_s - h / 2))
        x1 = min(width, math.ceil(cx_s + w / 2))
        y1 = min(height, math.ceil(cy_s + h / 2))
        return Box(x0, y0, max(x0 + 1, x1), max(y0 + 1, y1))


def _centre(box: Box) -> tuple[float, float]:
    return (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2


def _inside(point: tuple[float, float], box: Box) -> bool:
    return box.x0 <= point[0] < box.x1 and box.y0 <= point[1] < box.y1


class BlockHold:
    """Keeps the auto block size of a video from hopping by one pixel as a region's area
    wobbles: a new size replaces the held one only when it differs by more than 15 %."""

    def __init__(self) -> None:
        self.held: int | None = None

    def __call__(self, block: int) -> int:
        if self.held is None or abs(block - self.held) > max(1.0, 0.15 * self.held):
            self.held = block
        return self.held
