"""SceneMotion: the camera's motion between frames (a pan, a zoom) from small grey copies, the
cuts between shots, and how much of the frame is new since the last whole-frame search; the
FaceTracker searches whole frames where the picture changed and follows faces between."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from mosaicgan.infer.add.face_track import FaceTracker
from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
from mosaicgan.infer.video.motion import SceneMotion, move_box

FIXTURES = Path(__file__).parent / "fixtures"


def canvas(name: str, width: int) -> np.ndarray:
    image = Image.open(FIXTURES / name).convert("RGB")
    return np.asarray(image.resize((width, round(image.height * width / image.width)), Image.LANCZOS))


def view(picture: np.ndarray, *, x: float, y: float, zoom: float = 1.0, size=(320, 180)) -> np.ndarray:
    """The size-pixel frame of `picture` whose top left corner is (x, y), magnified by zoom."""
    matrix = np.array([[zoom, 0, -x * zoom], [0, zoom, -y * zoom]], dtype=np.float64)
    return cv2.warpAffine(picture, matrix, size, flags=cv2.INTER_LINEAR)


@pytest.fixture(scope="module")
def group():
    return canvas("face.jpg", 900)


def test_a_pan_is_measured_in_frame_pixels(group):
    scene = SceneMotion()
    assert scene.update(view(group, x=100, y=100)).cut  # the first frame starts a shot
    for k in range(1, 6):
        motion = scene.update(view(group, x=100 + 7 * k, y=100 + 2 * k))
        assert not motion.cut
        # The picture moves left and up as the camera pans right and down.
        assert abs(motion.matrix[0, 2] + 7) < 1.0 and abs(motion.matrix[1, 2] + 2) < 1.0, motion.matrix
    # 5 x 7 = 35 of 320 columns and 10 of 180 rows are new since the first frame: 16% of it.
    assert abs(scene.moved_since_search() - (1 - (285 * 170) / (320 * 180))) < 0.02
    scene.searched()
    assert scene.moved_since_search() < 0.01


def test_a_zoom_scales_boxes_about_the_right_point(group):
    scene = SceneMotion()
    scene.update(view(group, x=200, y=150))
    motion = scene.update(view(group, x=200 + 160 * (1 - 1 / 1.1), y=150 + 90 * (1 - 1 / 1.1), zoom=1.1))
    assert not motion.cut
    assert abs(np.hypot(motion.matrix[0, 0], motion.matrix[1, 0]) - 1.1) < 0.02
    # The frame's centre stays put; a box beside it moves out and grows by 10%.
    x0, y0, x1, y1 = move_box((200, 60, 240, 100), motion.matrix)
    assert abs((x0 + x1) / 2 - (160 + 60 * 1.1)) < 2 and abs((x1 - x0) - 44) < 1.5


def test_a_cut_is_found_and_a_still_frame_is_not_one(group):
    other = canvas("cat.jpg", 900)
    scene = SceneMotion()
    scene.update(view(group, x=100, y=100))
    assert not scene.update(view(group, x=100, y=100)).cut
    assert scene.update(view(other, x=100, y=60)).cut
    assert not scene.update(view(other, x=103, y=60)).cut


class CountingFinder(RegionFinder):
    """The real detector, counting whole-frame searches and follows."""

    def __init__(self):
        super().__init__(RegionRequest(kind="faces"))
        self.searches, self.follows = [], []
        self.frame = -1

    def find_faces(self, frame, **kwargs):  # whole frames and edge strips
        self.searches.append(self.frame)
        return super().find_faces(frame, **kwargs)

    def follow_faces(self, frame, boxes):
        self.follows.append(self.frame)
        return super().follow_faces(frame, boxes)


def track(finder: CountingFinder, frames: list[np.ndarray]) -> list:
    """The FaceTracker's observation of each frame (a whole search at most every 10 frames,
    faces followed in 1 of 2), the finder told which frame it works on."""
    tracker = FaceTracker(finder, detect_every=10, follow_every=2)
    seen = []
    for k, frame in enumerate(frames):
        finder.frame = k
        seen.append(tracker(frame))
    return seen


def test_the_tracker_searches_where_the_picture_changed_and_follows_between(group):
    """A still shot is searched whole once in detect_every frames, a cut at once; in a pan the
    strip of new picture at the edge it comes in at is searched once a twentieth of the frame is
    new, and the fourth person, panned into view, is found there; the faces are followed in
    between."""
    other = canvas("grace_hopper.jpg", 500)
    # Three of the four people (faces 50-110 px), then the camera pans right 12 px a frame.
    frames = ([view(group, x=0, y=60, zoom=0.5)] * 12
              + [view(group, x=24 * k, y=60, zoom=0.5) for k in range(1, 13)] + [view(other, x=80, y=40)] * 4)
    finder = CountingFinder()
    seen = track(finder, frames)
    how = {k: s.how for k, s in enumerate(seen) if s is not None}
    # Whole: frames 0, 10 and 20, and the cut at 24 (the pan brings in 45% of the frame, under half).
    assert [k for k, h in how.items() if h == "search"] == [0, 10, 20, 24], how
    assert seen[24].cut and not any(s.cut for s in seen[1:24] if s is not None)
    # 12 px a frame: a twentieth of 320 columns (16 px) is new every second frame of the pan
    # (counted afresh after the whole search at 20).
    edges = [k for k in range(12, 24) if k in finder.searches and how[k] != "search"]
    assert edges == [13, 15, 17, 19, 22], finder.searches
    followed = [s for s in seen[:12] if s is not None and s.how == "follow"]
    assert len(followed) == 4 and all(len(s.found) == len(seen[0].found) == 3 for s in followed), seen[:12]
    # The fourth person (right, at x ~ 380-430 of the half-size canvas) came in during the pan.
    keys = {key for s in seen[12:24] if s is not None for key in s.keys}
    assert len(keys) == 4, keys
    assert len(seen[24].found) == 1  # Grace Hopper alone after the cut


class StripFinder(CountingFinder):
    """Also the width of each strip searched and the smallest face it was searched for."""

    def __init__(self):
        super().__init__()
        self.strips = []

    def find_faces(self, frame, **kwargs):
        self.strips.append((self.frame, frame.shape[1], kwargs.get("min_face")))
        return super().find_faces(frame, **kwargs)


def test_edge_strips_are_narrow_at_full_scale_and_wide_only_for_large_faces(group):
    """At 480 rows the margin into the seen picture is 72 px: the strip of new picture is
    searched at full scale with 64 px of it, and with all 72 only for faces from 48 px; the
    person panned into view is still found (the pan of the test above, at 854 x 480)."""
    scale = 480 / 180
    frames = ([view(group, x=0, y=60, zoom=0.5 * scale, size=(854, 480))] * 12
              + [view(group, x=24 * k, y=60, zoom=0.5 * scale, size=(854, 480)) for k in range(1, 13)])
    finder = StripFinder()
    seen = track(finder, frames)
    edge_frames = {k for k, _, _ in finder.strips if seen[k] is not None and seen[k].how != "search"}
    assert edge_frames, finder.strips
    for k in edge_frames:
        widths = {m: w for j, w, m in finder.strips if j == k}
        assert set(widths) == {None, 48.0}, finder.strips  # one strip (the right edge), two passes
        assert widths[48.0] - widths[None] == 72 - 64
    keys = {key for s in seen[12:] if s is not None for key in s.keys}
    assert len(keys) == 4, keys
