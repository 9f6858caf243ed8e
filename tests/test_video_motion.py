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
        self.frame = 0

    def find_faces(self, frame, **kwargs):
        self.searches.append(self.frame)
        return super().find_faces(frame, **kwargs)

    def follow_faces(self, frame, boxes):
        self.follows.append(self.frame)
        return super().follow_faces(frame, boxes)


def test_the_tracker_searches_where_the_picture_changed_and_follows_between(group):
    """A still shot is searched once in detect_every frames, a pan once it brought in a fifth of
    the frame, a cut at once; the faces are followed in between and found all along."""
    other = canvas("grace_hopper.jpg", 500)
    # Three of the four people (faces 50-110 px), then the camera pans right 12 px a frame.
    frames = ([view(group, x=0, y=60, zoom=0.5)] * 12
              + [view(group, x=24 * k, y=60, zoom=0.5) for k in range(1, 13)] + [view(other, x=80, y=40)] * 4)
    finder = CountingFinder()
    tracker = FaceTracker(finder, detect_every=10, follow_every=2)
    seen = []
    for k, frame in enumerate(frames):
        finder.frame = k
        seen.append(tracker(frame))
    # Still: frames 0 and 10; panning 12 px a frame from frame 12 on: over a fifth of the 320
    # columns new after 6 frames of it (17, and again 23); the cut at 24.
    assert finder.searches == [0, 10, 17, 23, 24], finder.searches
    assert seen[24].cut and seen[24].how == "search" and not seen[23].cut
    assert all(finder.follows) and len(finder.follows) >= 8
    followed = [s for s in seen[:12] if s is not None and s.how == "follow"]
    assert len(followed) == 4 and all(len(s.found) == len(seen[0].found) == 3 for s in followed), seen[:12]
    assert len(seen[24].found) == 1  # Grace Hopper alone after the cut
