"""Whether a restored region looks like a face: `remove` then warns that it is not the
person's face (the CLI's FACE_WARNING). The one check for images and videos.

On a video the restoration of a region changes little from frame to frame, so `FaceWatch`
looks at the restored regions of the first frame that has any and then of one such frame in
`every`, and stops once it has seen a face: a few crop-sized face searches per video.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from mosaicgan.ops.masks import Box


def shows_a_face(frame: torch.Tensor, boxes: Iterable[Box | tuple[int, int, int, int]]) -> bool:
    """Whether the face detector finds a face overlapping one of `boxes` (x0, y0, x1, y1) of the
    restored `frame` (C, H, W) in [-1, 1]. It looks at a crop around each box (half its size
    again on every side), not the whole frame: cheaper, and a face that overlaps the region
    lies in it."""
    from mosaicgan.localize.faces.detect import detect_faces

    rgb = frame if frame.shape[0] == 3 else frame.expand(3, -1, -1)
    h, w = rgb.shape[1:]
    for x0, y0, x1, y1 in boxes:
        px, py = (x1 - x0) // 2, (y1 - y0) // 2
        cx0, cy0, cx1, cy1 = max(0, x0 - px), max(0, y0 - py), min(w, x1 + px), min(h, y1 + py)
        for face in detect_faces(rgb[:, cy0:cy1, cx0:cx1]):
            fx0, fy0, fx1, fy1 = face.x0 + cx0, face.y0 + cy0, face.x1 + cx0, face.y1 + cy0
            if fx0 < x1 and x0 < fx1 and fy0 < y1 and y0 < fy1:
                return True
    return False


class FaceWatch:
    """`shows_a_face` over the frames of a video that have restored regions: checks the first,
    then one in `every`, until a face is seen (`found`)."""

    def __init__(self, *, every: int) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every
        self.found = False
        self._frames = 0  # frames with restored regions seen so far

    def look(self, frame: torch.Tensor, boxes: Iterable[Box | tuple[int, int, int, int]]) -> None:
        """One frame (C, H, W) in [-1, 1] with restored regions, and their boxes (read only
        when this frame is checked)."""
        if self.found:
            return
        if self._frames % self.every == 0:
            self.found = shows_a_face(frame, boxes)
        self._frames += 1
