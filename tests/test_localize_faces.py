import socket

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import FIXTURES
from mosaicgan.data.images import pil_to_tensor
from mosaicgan.errors import UserError
from mosaicgan.localize import detect_faces, detect_faces_batch, face_mask, load_face_detector
from mosaicgan.localize.boxes import Box, box_iou
from mosaicgan.localize.faces.centerface import FaceDetector
from mosaicgan.localize.faces.detect import detect_faces_near, face_extent
from mosaicgan.localize.faces.pyramid import plan_pieces, pyramid_scales, tile_windows

# Faces checked by eye (x0, y0, x1, y1), brow to chin: Grace Hopper in grace_hopper.jpg (256x300),
# and the 4 people of face.jpg (512x355), left to right.
HOPPER = Box(75, 60, 185, 175)
FOUR = [Box(5, 95, 55, 165), Box(120, 80, 225, 210), Box(250, 45, 355, 180), Box(430, 110, 495, 190)]
# The detector's scores (heatmap peaks) are above 0.85 on these faces and below 0.1 anywhere
# on the face-free photos; the tests ask for half of that margin on either side.
FOUND, NOTHING = 0.5, 0.2


def as_box(face) -> Box:
    return Box(round(face.x0), round(face.y0), round(face.x1), round(face.y1))


@pytest.fixture(scope="module")
def hopper() -> Image.Image:
    return Image.open(FIXTURES / "grace_hopper.jpg").convert("RGB")


@pytest.fixture(scope="module")
def group() -> Image.Image:
    return Image.open(FIXTURES / "face.jpg").convert("RGB")


def test_shipped_detector_loads_and_runs_offline(monkeypatch, hopper):
    def refuse(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    detector = load_face_detector()
    assert isinstance(detector, FaceDetector)
    assert len(detector.detect(hopper)[0]) == 1


def test_finds_grace_hopper_from_any_image_type(hopper):
    (face,) = detect_faces(hopper)
    assert face.score > FOUND and box_iou(as_box(face), HOPPER) > 0.5
    for other in (pil_to_tensor(hopper), np.asarray(hopper)):
        (again,) = detect_faces(other)
        assert box_iou(as_box(again), as_box(face)) > 0.9


def test_finds_the_four_people(group):
    faces = detect_faces(group)
    assert len(faces) == 4
    for truth in FOUR:
        best = max(faces, key=lambda f: box_iou(as_box(f), truth))
        assert best.score > FOUND and box_iou(as_box(best), truth) > 0.5


@pytest.mark.parametrize("name", ["cat.jpg", "bird.jpg"])
def test_no_face_in_a_photo_without_people(name):
    image = Image.open(FIXTURES / name).convert("RGB")
    assert detect_faces(image, threshold=NOTHING) == []
    assert detect_faces(Image.new("RGB", (200, 150), (128, 128, 128))) == []


def test_mask_covers_eyes_nose_and_mouth_of_every_face(hopper, group):
    for image in (hopper, group):
        faces = detect_faces(image)
        assert faces
        for shape in ("ellipse", "box"):
            mask = face_mask(faces, height=image.height, width=image.width, shape=shape)
            for face in faces:
                assert len(face.landmarks) == 5
                left_eye, right_eye, nose, left_mouth, right_mouth = face.landmarks
                # Landmarks where a face has them: eyes above the nose above the mouth.
                assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1])
                assert left_eye[0] < right_eye[0] and left_mouth[0] < right_mouth[0]
                for x, y in face.landmarks:
                    assert mask[int(y), int(x)]
                # The whole detector box is inside the mask (the ellipse is inscribed in the grown box).
                box = as_box(face)
                inner = mask[max(0, box.y0):box.y1, max(0, box.x0):box.x1]
                assert inner.float().mean() > 0.97
    # Nothing far from the face is masked.
    mask = face_mask(detect_faces(hopper), height=hopper.height, width=hopper.width)
    assert not mask[-1, 0] and not mask[-1, -1] and not mask[0, 0]


def test_grow_and_shape_set_the_region(hopper):
    (face,) = detect_faces(hopper)
    h, w = hopper.height, hopper.width
    none = face_mask([face], height=h, width=w, grow=0.0, shape="box")
    grown = face_mask([face], height=h, width=w, grow=0.3, shape="box")
    ellipse = face_mask([face], height=h, width=w, grow=0.3, shape="ellipse")
    assert none.sum() < ellipse.sum() < grown.sum()
    assert not (none & ~grown).any() and not (ellipse & ~grown).any()
    x0, y0, x1, y1 = face_extent(face, grow=0.3)
    assert x1 - x0 == pytest.approx(1.6 * (max(face.x1, *(x for x, _ in face.landmarks))
                                           - min(face.x0, *(x for x, _ in face.landmarks))))


def test_small_face_in_a_large_image_is_found_through_tiles(hopper):
    # Grace Hopper's face at about 24 px, pasted into a 1200x800 scene searched in 512 px tiles,
    # right across a tile border.
    scene = Image.open(FIXTURES / "bird.jpg").convert("RGB").resize((1200, 800), Image.BICUBIC)
    small = hopper.resize((round(hopper.width * 24 / 110), round(hopper.height * 24 / 110)), Image.LANCZOS)
    scene.paste(small, (480, 300))
    detector = load_face_detector(tile=512, overlap=96)
    assert len({(p.x, p.y) for p in plan_pieces([(800, 1200)], min_face=16, tile=512, overlap=96)}) > 4
    faces = [f for f in detector.detect(scene)[0] if f.score > FOUND]
    assert len(faces) == 1
    face = faces[0]
    assert 480 + 10 < (face.x0 + face.x1) / 2 < 480 + 50 and 300 + 10 < (face.y0 + face.y1) / 2 < 300 + 50
    assert 15 < face.height < 40


@pytest.mark.slow
def test_24_pixel_face_in_a_3000x2000_photo(hopper):
    scene = Image.open(FIXTURES / "cat.jpg").convert("RGB").resize((3000, 2000), Image.BICUBIC)
    small = hopper.resize((round(hopper.width * 24 / 110), round(hopper.height * 24 / 110)), Image.LANCZOS)
    scene.paste(small, (2500, 1700))
    faces = [f for f in detect_faces(scene) if f.score > FOUND]
    assert len(faces) == 1 and 2500 < faces[0].x0 < faces[0].x1 < 2500 + small.width
    mask = face_mask(faces, height=2000, width=3000)
    assert all(mask[int(y), int(x)] for x, y in faces[0].landmarks)


def test_large_close_up_is_found_on_a_coarser_level(hopper):
    # The face fills most of a 1000 px image: too large for the network at full size.
    close = hopper.crop((60, 40, 200, 200)).resize((880, 1000), Image.BICUBIC)
    (face,) = [f for f in detect_faces(close) if f.score > FOUND]
    assert face.height > 600


def test_batch_gives_the_same_faces_as_one_by_one(hopper, group):
    frames = [hopper, group, Image.open(FIXTURES / "cat.jpg").convert("RGB"), group]
    batched = detect_faces_batch(frames)
    assert [len(f) for f in batched] == [1, 4, 0, 4]
    for image, faces in zip(frames, batched, strict=True):
        alone = detect_faces(image)
        for a, b in zip(sorted(faces, key=lambda f: f.x0), sorted(alone, key=lambda f: f.x0), strict=True):
            assert box_iou(as_box(a), as_box(b)) > 0.95


def test_pyramid_and_tiles_cover_every_size_and_place():
    # Level 0 puts min_face at 16 px; levels go 4x smaller until the short side fits 512 px.
    assert pyramid_scales(1080, 1920, min_face=16) == [1.0, 0.25]
    assert pyramid_scales(300, 400, min_face=16) == [1.0]
    assert pyramid_scales(3000, 4000, min_face=32)[0] == 0.5
    assert pyramid_scales(1000, 1000, min_face=8)[0] == 2.0
    for length, tile, overlap in [(1000, 1000, 100), (5000, 1536, 160), (1537, 1536, 160), (4000, 512, 96)]:
        windows = tile_windows(length, tile=tile, overlap=overlap)
        assert windows[0][0] == 0 and windows[-1][0] + windows[-1][1] == length
        assert len({size for _, size in windows}) == 1 and all(size <= tile for _, size in windows)
        for (a, size), (b, _) in zip(windows, windows[1:], strict=False):
            assert a + size - b >= overlap


def test_threshold_and_min_face_filter(group):
    all_faces = detect_faces(group, threshold=0.05)
    assert len(all_faces) > 4  # weak peaks appear at a low threshold
    assert [f for f in all_faces if f.score > NOTHING] == detect_faces(group, threshold=NOTHING)
    big = detect_faces(group, min_face=100)
    assert len(big) == 2 and all(f.size >= 100 for f in big)


def test_bad_inputs(tmp_path, hopper):
    with pytest.raises(ValueError, match="RGB"):
        detect_faces(torch.zeros(1, 50, 50))
    with pytest.raises(ValueError, match="uint8 RGB"):
        detect_faces(np.zeros((50, 50), dtype=np.float32))
    with pytest.raises(ValueError, match="threshold"):
        detect_faces(hopper, threshold=1.5)
    with pytest.raises(ValueError, match="min_face"):
        detect_faces(hopper, min_face=1)
    with pytest.raises(ValueError, match="shape"):
        face_mask([], height=10, width=10, shape="star")
    assert not face_mask([], height=10, width=10).any()
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="junk.safetensors"):
        load_face_detector(junk)
    from mosaicgan.localize import shipped_classifier_path

    with pytest.raises(UserError, match="detector checkpoint"):
        load_face_detector(shipped_classifier_path())


def test_faces_near_known_boxes_are_found_where_they_moved_to(group):
    """detect_faces_near: each of the four faces, moved by a few pixels, is found again from its
    old box, at the place a whole-image search gives; a box far from any face finds nothing."""
    faces = detect_faces(group)
    canvas = Image.new("RGB", (group.width + 40, group.height + 20), (90, 90, 90))
    canvas.paste(group, (30, 12))  # every face moves 30 px right, 12 px down
    whole = detect_faces(canvas)
    old = [(f.x0, f.y0, f.x1, f.y1) for f in faces]
    for picture in (canvas, np.asarray(canvas), pil_to_tensor(canvas)):
        near = detect_faces_near(picture, old)
        assert len(near) == 4
        for face in near:
            assert max(box_iou(as_box(face), as_box(w)) for w in whole) > 0.75  # searched at another scale
    # Only the windows are searched: a window on the empty right margin finds no face.
    assert detect_faces_near(canvas, [(group.width + 15, 5, group.width + 35, 25)]) == []


def test_bad_array_for_faces_near(group):
    with pytest.raises(ValueError, match="uint8 RGB"):
        detect_faces_near(np.zeros((10, 10), dtype=np.uint8), [(0, 0, 5, 5)])


def test_bf16_pass_finds_the_faces_of_float32(hopper, group):
    """precision="bf16" (the default where the CPU runs bf16 natively) finds what float32 finds:
    it only chooses candidates; borderline scores are computed in float32."""
    net = load_face_detector().net
    fp32, bf16 = FaceDetector(net, precision="fp32"), FaceDetector(net, precision="bf16")
    for picture in (hopper, group):
        a, b = fp32.detect(picture)[0], bf16.detect(picture)[0]
        assert len(a) == len(b) > 0
        for face in a:
            assert max(box_iou(as_box(face), as_box(other)) for other in b) > 0.9
    with pytest.raises(ValueError, match="precision"):
        FaceDetector(net, precision="fp16")


def test_onnxruntime_finds_what_torch_finds(group):
    """Inside `FaceDetector.onnxruntime()` (a video's searches) the network runs in float32
    through onnxruntime: the same faces as torch (bf16 where the CPU has it), whole image and
    followed windows alike; outside the block, torch again."""
    detector = load_face_detector()
    with detector.onnxruntime() as on:
        if not on:
            pytest.skip("onnxruntime or the ONNX exporter is not available here")
        assert detector._engine is not None
        whole = detector.detect(group)[0]
        followed = detector.follow(np.asarray(group), [(f.x0 + 6, f.y0 - 4, f.x1 + 6, f.y1 - 4) for f in whole])
    assert detector._engine is None
    plain = detector.detect(group)[0]
    assert len(whole) == len(plain) == 4
    for face in plain:
        best = max(whole, key=lambda f: box_iou(as_box(f), as_box(face)))
        assert box_iou(as_box(best), as_box(face)) > 0.9 and abs(best.score - face.score) < 0.05
    assert all(f is not None and max(box_iou(as_box(f), as_box(w)) for w in whole) > 0.75 for f in followed)


def test_faces_down_to_10_pixels_by_default(group):
    """The four people at a fifth of their size (faces of 10, 13, 21 and 21 pixels) on a plain
    background: the old default (16 pixels) finds the two large ones, the default also the
    13-pixel face, proposed at 16 pixels and confirmed at full scale with the stricter score."""
    small = group.resize((round(group.width * 0.2), round(group.height * 0.2)), Image.LANCZOS)
    canvas = Image.new("RGB", (480, 320), (110, 100, 90))
    canvas.paste(small, (150, 120))
    old = detect_faces(canvas, min_face=16)
    new = detect_faces(canvas)
    assert len(old) == 2 and all(f.size > 16 for f in old)
    assert len(new) == 3
    (tiny,) = [f for f in new if f.size < 16]
    assert tiny.score > 0.7 and 150 + 85 < (tiny.x0 + tiny.x1) / 2 < 150 + 100  # the right-hand face


@pytest.mark.parametrize("exporter", ["works", "fails"])
def test_shipped_int8_model_finds_what_float32_finds(hopper, group, exporter, monkeypatch):
    """`onnxruntime(int8=True)` (a video's searches) runs the shipped int8 model: the same faces
    as torch on the people photos, the 13-pixel face of the test above included, nothing on the
    face-free ones; the passes that ask for float32 (mirror scores near the threshold, windows
    of tiny faces) get the float32 export, or torch's float32 where the exporter fails (an old
    torch)."""
    from mosaicgan.localize.faces import onnx_engine as engines
    from mosaicgan.localize.faces.onnx_engine import int8_model, onnx_engine

    if int8_model() is None:
        pytest.fail("the package ships assets/centerface_int8.onnx")
    if exporter == "fails":
        monkeypatch.setattr(engines, "export_model", lambda net: 1 / 0)
    detector = load_face_detector()
    small = group.resize((round(group.width * 0.2), round(group.height * 0.2)), Image.LANCZOS)
    tiny = Image.new("RGB", (480, 320), (110, 100, 90))
    tiny.paste(small, (150, 120))
    pictures = (hopper, group, tiny)
    plain = [detector.detect(p)[0] for p in pictures]
    free = [Image.open(FIXTURES / name).convert("RGB") for name in ("cat.jpg", "bird.jpg")]
    with detector.onnxruntime(int8=True) as on:
        if not on:
            pytest.skip("onnxruntime is not available here")
        assert detector._engine.int8
        quantized = [detector.detect(p)[0] for p in pictures]
        assert all(detector.detect(p, threshold=NOTHING)[0] == [] for p in free)
        x = torch.rand(2, 3, 96, 128) * 2 - 1
        exact = onnx_engine(detector.net, threads=detector._engine.threads, cache=detector._engines)
        assert exact is None or exporter == "works"
        if exact is None:  # torch's own float32 pass (also where this torch cannot export)
            def exact(inputs):
                with torch.inference_mode():
                    return detector.net(inputs.contiguous(memory_format=torch.channels_last))
        assert torch.allclose(detector._run(x, precision="fp32")["heatmap"], exact(x)["heatmap"], atol=1e-5)
        assert not torch.allclose(detector._run(x)["heatmap"], exact(x)["heatmap"], atol=1e-3)  # the int8 model
    # A detector with other weights (here: not loaded from the shipped file) never gets the int8 copy.
    other = FaceDetector(detector.net)
    with other.onnxruntime(int8=True):
        assert other._engine is None or not other._engine.int8
    for a, b in zip(plain, quantized, strict=True):
        assert len(a) == len(b) > 0
        for face in a:
            best = max(b, key=lambda f: box_iou(as_box(f), as_box(face)))
            assert box_iou(as_box(best), as_box(face)) > 0.8 and abs(best.score - face.score) < 0.1
