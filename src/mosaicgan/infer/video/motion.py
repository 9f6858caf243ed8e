"""How the picture moves from frame to frame: the camera's motion (a pan, a zoom) as one
similarity transform, and the cuts between shots, from small grey copies of the frames.

A face search over a whole frame is the costly part of following faces in a video; this tells
the follower when one is needed (a cut: everything is new; a pan or a zoom out: the part of
the frame not seen at the last search) and where a face seen before should be now (its box
moved with the camera, so the window it is looked for in can stay small).

Per frame (about 2 ms at any size): the frame shrunk to THUMB_WIDTH pixels across and made
grey; corners of the previous copy tracked into it (pyramidal Lucas-Kanade); a rotation, scale
and shift fitted to them (RANSAC). The previous copy moved by that fit and the new one differ
by a few grey levels within a shot (under 6 of 255 on the crowd clips of
benchmarks/crowd_clip.py, pans and zooms included) and by tens across a cut (58-80 there),
where few corners follow the fit (7-12% against 98-100%).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMB_WIDTH = 160
CUT_RESIDUAL = 40.0  # mean grey difference after the fit above which the picture changed wholly
CUT_RESIDUAL_WEAK = 20.0  # ... or above which it did when also few corners follow the fit
CUT_INLIERS = 0.5


@dataclass(frozen=True)
class Motion:
    """matrix: 3x3, maps a point of the previous frame to this one (frame pixels); identity at
    a cut. cut: this frame starts a shot (the first frame does)."""

    matrix: np.ndarray
    cut: bool


class SceneMotion:
    """`update(frame)` for each frame in order -> its `Motion`. `moved_since_search()`: the
    share of the current frame that the frame of the last `searched()` did not show (a pan
    brings new picture in at one side, a zoom out all around); `new_edges()`: where that new
    picture is since the last `edges_searched()` (or search)."""

    def __init__(self) -> None:
        self.previous: np.ndarray | None = None
        self.scale = 1.0  # frame pixels per thumbnail pixel
        self.size = (0, 0)  # (width, height) of the frames
        self.since_search = np.eye(3)
        self.since_edges = np.eye(3)

    def update(self, frame: np.ndarray) -> Motion:
        height, width = frame.shape[:2]
        thumb_h = max(8, round(height * THUMB_WIDTH / width))
        small = cv2.resize(frame if frame.dtype == np.uint8 else (frame >> 8).astype(np.uint8),
                           (THUMB_WIDTH, thumb_h), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY) if small.ndim == 3 else small
        previous, self.previous = self.previous, grey
        self.scale, self.size = width / THUMB_WIDTH, (width, height)
        if previous is None or previous.shape != grey.shape:
            self.since_search = self.since_edges = np.eye(3)
            return Motion(np.eye(3), True)
        fit, inliers = _fit(previous, grey)
        warped = cv2.warpAffine(previous, fit, grey.shape[::-1], flags=cv2.INTER_LINEAR)
        seen = cv2.warpAffine(np.ones_like(previous), fit, grey.shape[::-1], flags=cv2.INTER_NEAREST) > 0
        residual = float(np.abs(warped.astype(np.int16) - grey)[seen].mean()) if seen.any() else 255.0
        if residual > CUT_RESIDUAL or (residual > CUT_RESIDUAL_WEAK and inliers < CUT_INLIERS):
            self.since_search = self.since_edges = np.eye(3)
            return Motion(np.eye(3), True)
        matrix = np.vstack([fit, [0.0, 0.0, 1.0]])
        matrix[:2, 2] *= self.scale  # thumbnail shifts -> frame pixels (rotation and scale are the same)
        self.since_search = matrix @ self.since_search
        self.since_edges = matrix @ self.since_edges
        return Motion(matrix, False)

    def searched(self) -> None:
        """The current frame was searched whole."""
        self.since_search = self.since_edges = np.eye(3)

    def edges_searched(self) -> None:
        """The new picture at the current frame's edges (`new_edges`) was searched."""
        self.since_edges = np.eye(3)

    def moved_since_search(self) -> float:
        """Share (0..1) of the current frame outside what the last searched frame showed."""
        return self._new_share(self.since_search)

    def moved_since_edges(self) -> float:
        """Share (0..1) of the current frame outside what it showed at the last edge search."""
        return self._new_share(self.since_edges)

    def new_edges(self, *, margin: int) -> list[tuple[int, int, int, int]]:
        """(x0, y0, x1, y1) of the strips along the frame's edges that hold the picture new since
        the last edge (or whole) search, each reaching `margin` pixels into what was seen (a face
        that stood across the old edge is whole in it)."""
        width, height = self.size
        seen = self._seen(self.since_edges)
        x0, y0 = seen[:, 0].min(), seen[:, 1].min()
        x1, y1 = seen[:, 0].max(), seen[:, 1].max()
        strips = []
        if x0 > 0.5:
            strips.append((0, 0, min(width, int(x0) + 1 + margin), height))
        if x1 < width - 0.5:
            strips.append((max(0, int(x1) - margin), 0, width, height))
        if y0 > 0.5:
            strips.append((0, 0, width, min(height, int(y0) + 1 + margin)))
        if y1 < height - 0.5:
            strips.append((0, max(0, int(y1) - margin), width, height))
        return strips

    def _seen(self, since: np.ndarray) -> np.ndarray:
        """Corners (4, 2) of the frame of then, in the current frame's pixels."""
        width, height = self.size
        corners = np.array([[0, 0, 1], [width, 0, 1], [width, height, 1], [0, height, 1]], dtype=np.float64)
        return (since @ corners.T).T[:, :2]

    def _new_share(self, since: np.ndarray) -> float:
        width, height = self.size
        if not width:
            return 1.0
        frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
        area, _ = cv2.intersectConvexConvex(frame, self._seen(since).astype(np.float32))
        return max(0.0, 1.0 - area / (width * height))


def _fit(previous: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, float]:
    """The similarity transform (2x3, thumbnail pixels) that moves `previous` onto `current`,
    and the share of tracked corners that agree with it (identity and 0 with too few)."""
    identity = np.eye(2, 3)
    corners = cv2.goodFeaturesToTrack(previous, maxCorners=100, qualityLevel=0.01, minDistance=5, blockSize=5)
    if corners is None or len(corners) < 6:
        return identity, 0.0
    moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, current, corners, None, winSize=(15, 15), maxLevel=3)
    ok = status[:, 0] == 1
    if ok.sum() < 6:
        return identity, 0.0
    fit, inliers = cv2.estimateAffinePartial2D(corners[ok], moved[ok], method=cv2.RANSAC, ransacReprojThreshold=1.0)
    if fit is None:
        return identity, 0.0
    return fit, float(inliers.sum()) / len(corners)


def move_box(box: tuple[float, float, float, float], matrix: np.ndarray) -> tuple[float, float, float, float]:
    """A box carried by a similarity transform (3x3): its centre moved, its size scaled."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    nx, ny, _ = matrix @ np.array([cx, cy, 1.0])
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    hw, hh = (x1 - x0) * scale / 2, (y1 - y0) * scale / 2
    return float(nx - hw), float(ny - hh), float(nx + hw), float(ny + hh)
