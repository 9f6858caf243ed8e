from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mosaicgan.data.images import pil_to_tensor
from mosaicgan.localize import detect_faces, face_mask
from mosaicgan.localize.boxes import Box, box_iou

FIXTURES = Path(__file__).parent / "fixtures"
# Grace Hopper's face in grace_hopper.jpg (256x300), from the photo: brow under the cap to chin.
FACE = Box(75, 75, 185, 185)


@pytest.fixture(scope="module")
def hopper() -> Image.Image:
    return Image.open(FIXTURES / "grace_hopper.jpg").convert("RGB")


def test_finds_the_face(hopper):
    boxes = detect_faces(hopper)
    assert len(boxes) == 1
    assert box_iou(boxes[0], FACE) > 0.5
    # Same answer from a tensor in [-1, 1] and from an RGB array.
    assert detect_faces(pil_to_tensor(hopper)) == boxes
    assert detect_faces(np.asarray(hopper)) == boxes


def test_mask_covers_the_face(hopper):
    mask = face_mask(hopper, pad=0.0)
    assert mask.shape == (hopper.height, hopper.width)
    assert mask[(FACE.y0 + FACE.y1) // 2, (FACE.x0 + FACE.x1) // 2]
    assert not mask[5, 5] and not mask[-5, -5]


def test_no_face_in_a_cat_or_a_flat_image():
    assert detect_faces(Image.open(FIXTURES / "cat.jpg")) == []
    assert detect_faces(Image.new("RGB", (200, 150), (128, 128, 128))) == []


def test_large_images_are_searched_smaller_but_boxed_at_full_size(hopper):
    big = hopper.resize((hopper.width * 4, hopper.height * 4), Image.BILINEAR)
    (box,) = detect_faces(big, max_side=400)
    assert box_iou(box, Box(*(4 * v for v in FACE))) > 0.5
