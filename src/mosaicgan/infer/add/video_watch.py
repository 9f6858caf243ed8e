"""What `add` does beside covering a video's frames, through two hooks of its frame stage
(`video_stage.mosaic_stage(watch=...)`): the tracker's boxes of each frame pass through `placed`
before they become a mask, and each frame passes through `covering` just before its cover.

- --keep-track: boxes of kept tracks are dropped in `placed` (those faces stay as they are);
- the detection report: `TrackLog` notes every box with its track id and how it got there;
- the contact sheet: a thumbnail of each track, from the input frame (the largest box seen);
- --lock-to: the original pixels under each cover go to the lock's recorder in `covering`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from mosaicgan.ops.masks import Box

THUMB_SIDE = 96  # pixels, the longer side of a contact sheet's thumbnail


class TrackLog:
    """Every box placed in a video, per frame, and each track's summary (the report's `tracks`
    and `frame_boxes`)."""

    def __init__(self) -> None:
        self.frames: list[dict] = []
        self.tracks: dict[int, dict] = {}

    def _frame(self, index: int) -> list[dict]:
        if not self.frames or self.frames[-1]["frame"] != index:
            self.frames.append({"frame": index, "boxes": []})
        return self.frames[-1]["boxes"]

    def place(self, index: int, box: Box, *, track: int | None, source: str, applied: bool,
              score: float | None = None) -> None:
        self._frame(index).append({"track": track, "box": [int(v) for v in box], "source": source,
                                   "applied": applied})
        if track is None:
            return
        summary = self.tracks.setdefault(track, {"id": track, "first_frame": index, "last_frame": index, "frames": 0,
                                                 "detected": 0, "followed": 0, "bridged": 0, "applied": applied,
                                                 "best_score": None})
        summary["last_frame"] = index
        summary["frames"] += 1
        summary[source] += 1
        if score is not None and (summary["best_score"] is None or score > summary["best_score"]):
            summary["best_score"] = round(float(score), 4)

    def to_dict(self) -> dict:
        return {"tracks": [self.tracks[k] for k in sorted(self.tracks)], "frame_boxes": self.frames}


@dataclass
class VideoWatch:
    """keep_tracks: track ids left uncovered. log: a TrackLog, or None. thumbs: track id ->
    thumbnail (uint8 RGB), filled when not None. recorder: `infer.lock.video.PatchRecorder`, or
    None. every: the whole-frame search interval (a box seen in another frame was followed).
    margin: pixels a cover reaches past its mask (grow + feather)."""

    keep_tracks: frozenset[int] = frozenset()
    log: TrackLog | None = None
    thumbs: dict[int, np.ndarray] | None = None
    recorder: object | None = None
    every: int = 1
    margin: int = 0
    _thumb_area: dict[int, int] = field(default_factory=dict)

    @property
    def labels(self) -> bool:
        """Whether the tracker must say which track each box is (`Steadier(labels=True)`)."""
        return bool(self.keep_tracks) or self.log is not None or self.thumbs is not None

    def placed(self, index: int, frame: np.ndarray, boxes: list[Box], labels: list[tuple[int, bool]], *,
               how: str | None = None, scores: list[float | None] | None = None) -> list[Box]:
        """The tracker's boxes of frame `index` (and (track id, seen here) for each); returns the
        boxes to cover. `frame` is still the input's. how: how the frame was searched, where the
        stage knows ("search" or "edges": detected; "follow": followed; else by `every`).
        scores: the detector's score of each box seen here (the tracks' best_score)."""
        if not labels:
            return boxes
        kept = []
        scores = scores if scores is not None else [None] * len(boxes)
        for box, (track, seen), score in zip(boxes, labels, scores, strict=True):
            applied = track not in self.keep_tracks
            if self.log is not None:
                if how:
                    source = ("followed" if how == "follow" else "detected") if seen else "bridged"
                else:
                    source = ("detected" if index % self.every == 0 else "followed") if seen else "bridged"
                self.log.place(index, box, track=track, source=source, applied=applied, score=score)
            if self.thumbs is not None and seen:
                self._thumb(track, frame, box)
            if applied:
                kept.append(box)
        return kept

    def added(self, index: int, also: list[dict]) -> None:
        """The --also boxes covering frame `index` (`RegionFinder.compose`'s info)."""
        if self.log is not None:
            for entry in also:
                self.log.place(index, Box(*entry["box"]), track=None, source="also", applied=True)

    def covering(self, index: int, frame: np.ndarray, mask: torch.Tensor) -> None:
        """Just before frame `index` is covered where `mask` (H, W) > 0."""
        if self.recorder is not None:
            self.recorder.record(index, frame, mask, margin=self.margin)

    def _thumb(self, track: int, frame: np.ndarray, box: Box) -> None:
        area = (box.x1 - box.x0) * (box.y1 - box.y0)
        if area <= self._thumb_area.get(track, 0):
            return
        self._thumb_area[track] = area
        crop = frame[box.y0:box.y1, box.x0:box.x1]
        if crop.dtype != np.uint8:
            crop = (crop >> 8).astype(np.uint8)
        scale = THUMB_SIDE / max(crop.shape[:2])
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        self.thumbs[track] = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
