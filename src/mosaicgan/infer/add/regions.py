"""Where to mosaic: one region request (a mask file, boxes, a CAM class, faces, random shapes)
turned into a mask for a frame. `RegionFinder.find(frame)` is the per-frame core: it takes a
frame (C, H, W) in [-1, 1] (or a uint8 array, see `image_io.as_frame`), whatever it came
from (a file, a video), and returns a `Region` whose mask has the frame's size.

`add` and `make-pairs` both go through `RegionFinder`, so "--faces" or "--cam CLASS" finds
the same region in both. Two kinds of request behave differently on purpose:
- explicit ones (mask, boxes) say exactly where; a mask of the wrong size or a box outside the
  image is the user's mistake, so `check` reports it as a one-line error before anything is
  written;
- detected ones (faces, cam) may find nothing in an image; that is not an error, and callers
  decide what to do (`add` leaves such an image out and lists it).
Random shapes draw from an explicit generator, so a caller that records the seed can redo them.
The user's own choices over any of these (--keep, --also; `chosen.py`) are applied by
`RegionFinder.compose`, after `find`, so that a video can add them frame by frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mosaicgan.choices import DETECTED_REGIONS, FACE_SHAPES, REGION_KINDS
from mosaicgan.errors import UserError
from mosaicgan.infer.add.chosen import XYWH, Also, also_mask, check_boxes, is_kept_face, keep_mask
from mosaicgan.infer.image_io import as_frame, to_rgb
from mosaicgan.infer.mask_io import find_mask_file, read_mask
from mosaicgan.localize.faces.detect import DEFAULT_FLIP, DEFAULT_GROW, DEFAULT_MIN_FACE, DEFAULT_THRESHOLD
from mosaicgan.ops.masks import Box, boxes_to_mask, check_mask
from mosaicgan.ops.shapes import draw_shapes, sample_shape, shape_to_dict


@dataclass(frozen=True)
class RegionRequest:
    """What the user asked for. Only the fields of `kind` matter.

    mask: a mask image (grey, 0 outside, 255 inside; grey levels are a soft edge) used for
      every image, or a folder holding one mask per image, named NAME.ext or NAME_mask.ext.
    boxes: (x, y, w, h) in pixels, left, top, width, height; cut to the image.
    cam_class: a class name or index of `classifier` (None: the shipped ImageNet model);
      the region is the largest connected area where the class map reaches `threshold` x
      its peak. A class map always has a peak, even where the class is absent; with
      `min_prob` > 0 an image whose predicted probability of the class is lower gets no region.
    shape_count, shape_size: random shapes per image (low, high, both included) and their
      size as a fraction of the image's short side.
    face_threshold, min_face, face_grow, face_shape: faces scoring at least the threshold and
      at least `min_face` pixels tall, each masked as its box (stretched to its landmarks)
      grown by `face_grow` x its size on every side, as an ellipse or a box (localize/faces/detect.py);
      face_flip scores faces on the image and its mirror image (twice the work, fewer false faces).
    keep, also, keep_tracks: areas never changed, boxes always covered (over a frame range), and
      video tracks left uncovered (`chosen.py`), whatever the kind.
    """

    kind: str
    mask: Path | None = None
    boxes: tuple[tuple[int, int, int, int], ...] = ()
    cam_class: str | None = None
    classifier: Path | None = None
    threshold: float = 0.5
    min_prob: float = 0.0
    shape_count: tuple[int, int] = (1, 3)
    shape_size: tuple[float, float] = (0.15, 0.5)
    face_threshold: float = DEFAULT_THRESHOLD
    min_face: float = DEFAULT_MIN_FACE
    face_grow: float = DEFAULT_GROW
    face_shape: str = FACE_SHAPES[0]
    face_flip: bool = DEFAULT_FLIP
    keep: tuple[XYWH, ...] = ()
    also: tuple[Also, ...] = ()
    keep_tracks: tuple[int, ...] = ()


@dataclass(frozen=True)
class FoundFace:
    """A face found in a video frame: the detector's `Face`, and `region`, the box (whole
    pixels, cut to the frame) of the pixels its mask fills: its box stretched to its landmarks
    and grown by the request's face_grow (`localize.faces.detect.face_extent`)."""

    face: Any
    region: Box


@dataclass
class Region:
    """A mask (H, W) float in [0, 1] (all zeros when nothing was found) and what made it.
    keep: (H, W) bool, pixels the mosaic must never change (--keep), or None."""

    mask: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)
    keep: torch.Tensor | None = None

    @property
    def empty(self) -> bool:
        return not bool((self.mask > 0).any())


def parse_box(text: str) -> tuple[int, int, int, int]:
    """"x,y,w,h" -> (x, y, w, h); a one-line UserError for anything else."""
    parts = [p.strip() for p in text.split(",")]
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise UserError(f"--box expects x,y,w,h (four integers, in pixels), got {text!r}") from None
    if w <= 0 or h <= 0:
        raise UserError(f"--box {text}: width and height must be positive")
    return x, y, w, h


class RegionFinder:
    """Turns a `RegionRequest` into masks. Loads what the request needs once (the classifier,
    the face detector) and checks the class name against the refusal list up front."""

    def __init__(self, request: RegionRequest, *, device: str | torch.device = "cpu") -> None:
        if request.kind not in REGION_KINDS:
            raise UserError(f"unknown region kind {request.kind!r}; choose one of {', '.join(REGION_KINDS)}")
        self.request = request
        self.classifier = None
        self.class_index: int | None = None
        self.face_detector = None
        if request.kind == "mask":
            if request.mask is None:
                raise UserError("a mask region needs a mask file or folder")
            if not request.mask.exists():
                raise UserError("no such mask file or folder", path=request.mask)
        elif request.kind == "boxes" and not request.boxes:
            raise UserError("give at least one --box x,y,w,h")
        elif request.kind == "cam":
            if not request.cam_class:
                raise UserError("a CAM region needs a class name (--cam CLASS)")
            if not 0.0 < request.threshold <= 1.0:
                raise UserError(f"--threshold must lie in (0, 1], got {request.threshold}")
            if not 0.0 <= request.min_prob < 1.0:
                raise UserError(f"--min-prob must lie in [0, 1), got {request.min_prob}")
            from mosaicgan.localize.cam.classifier import load_classifier

            self.classifier = load_classifier(request.classifier, device=device)
            self.class_index = self.classifier.resolve_allowed_class(request.cam_class)
        elif request.kind == "faces":
            from mosaicgan.localize.faces.detect import shipped_detector

            if not 0.0 < request.face_threshold < 1.0:
                raise UserError(f"--face-threshold must lie in (0, 1), got {request.face_threshold}")
            if request.min_face < 4:
                raise UserError(f"--min-face must be at least 4 pixels, got {request.min_face}")
            if request.face_grow < 0:
                raise UserError(f"--grow must be >= 0 with --faces (a fraction of each face's size), "
                                f"got {request.face_grow}")
            if request.face_shape not in FACE_SHAPES:
                raise UserError(f"--face-shape must be one of {', '.join(FACE_SHAPES)}, got {request.face_shape!r}")
            self.face_detector = shipped_detector(str(torch.device(device)))
        elif request.kind == "random":
            lo, hi = request.shape_count
            if not 1 <= lo <= hi:
                raise UserError(f"shape count must satisfy 1 <= low <= high, got {request.shape_count}")
        if request.keep_tracks and request.kind not in DETECTED_REGIONS:
            raise UserError("--keep-track goes with --faces or --cam (the tracks of detected regions in a video)")

    @property
    def detected(self) -> bool:
        """Regions found by a detector (faces, CAM), which may find nothing in an image."""
        return self.request.kind in DETECTED_REGIONS

    @property
    def class_label(self) -> str | None:
        return None if self.class_index is None else self.classifier.labels[self.class_index]

    def mask_file(self, image_path: Path | None) -> Path:
        """The mask file for an image: the one file, or NAME[_mask].ext in the mask folder."""
        return find_mask_file(self.request.mask, image_path)

    def check(self, image_path: Path | None, size: tuple[int, int]) -> None:
        """Everything that can be known wrong before any image is processed, for an image of
        `size` (width, height): the mask file's size and emptiness, boxes off the image."""
        if self.request.kind == "mask":
            self._read_mask(image_path, size)
        elif self.request.kind == "boxes":
            self._boxes_mask(size, image_path)
        check_boxes(self.request.also, size=size, path=image_path)

    @property
    def chooses(self) -> bool:
        """Whether the user kept or added areas (`compose` changes something)."""
        return bool(self.request.keep or self.request.also)

    def compose(self, region: Region, *, frame: int = 0) -> Region:
        """The region with the user's choices applied: the --also boxes that cover `frame`
        added, the --keep areas cut out (and set as the region's `keep`)."""
        if not self.chooses:
            return region
        height, width = region.mask.shape[-2:]
        mask, info = region.mask, dict(region.info)
        added = also_mask(self.request.also, frame=frame, height=height, width=width)
        if added is not None:
            mask = torch.maximum(mask, added)
            info["also"] = [a.to_dict() for a in self.request.also if a.covers(frame)]
        keep = keep_mask(self.request.keep, height=height, width=width)
        if keep is not None:
            mask = mask.masked_fill(keep, 0.0)
            info["keep"] = [[x, y, x + w, y + h] for x, y, w, h in self.request.keep]
        return Region(mask, info, keep=keep)

    def find(self, image: torch.Tensor | np.ndarray, *, path: Path | None = None,
             generator: torch.Generator | None = None) -> Region:
        """The region of one frame, a mask at the frame's size.

        image: (C, H, W) in [-1, 1], C = 3 or 1 (grey), or a uint8 array (H, W[, 3]).
        path: the frame's file, for a folder of masks (NAME.png per image) and for messages.
        generator: random shapes draw from it (required for them; unused by the others).
        """
        image = as_frame(image)
        height, width = image.shape[-2:]
        kind = self.request.kind
        if kind == "mask":
            mask, mask_path = self._read_mask(path, (width, height))
            return Region(mask, {"kind": "mask", "mask_file": str(mask_path)})
        if kind == "boxes":
            return Region(self._boxes_mask((width, height), path),
                          {"kind": "boxes", "boxes": [list(b) for b in self.request.boxes]})
        if kind == "faces":
            return self.find_batch([image], path=path)[0]
        if kind == "cam":
            from mosaicgan.localize.cam.maps import heatmap_to_mask

            rgb = to_rgb(image)
            info = {"kind": "cam", "class": self.class_label, "threshold": self.request.threshold}
            if self.request.min_prob > 0:
                prob = float(self.classifier.logits(rgb).softmax(dim=1)[0, self.class_index])
                info["prob"] = round(prob, 6)
                if prob < self.request.min_prob:
                    return Region(torch.zeros(height, width), info)
            heat = self.classifier.class_map(rgb, self.class_index)[0]
            mask = heatmap_to_mask(heat, threshold=self.request.threshold, keep="largest").float()
            return Region(mask, info)
        if generator is None:
            raise ValueError("random regions need an explicit torch.Generator")
        lo, hi = self.request.shape_count
        count = int(torch.randint(lo, hi + 1, (), generator=generator))
        shapes = [sample_shape(height=height, width=width, generator=generator,
                               size_range=self.request.shape_size) for _ in range(count)]
        mask = draw_shapes(shapes, height=height, width=width)[0]
        return Region(mask, {"kind": "random", "shapes": [shape_to_dict(s) for s in shapes]})

    def find_batch(self, images: list[torch.Tensor | np.ndarray], *, path: Path | None = None) -> list[Region]:
        """`find` for several frames; faces of all of them go through the detector's network in
        shared batches (frames of one size share every batch)."""
        if self.request.kind != "faces":
            return [self.find(image, path=path) for image in images]
        from mosaicgan.localize.faces.detect import detect_faces_batch

        request = self.request
        frames = [as_frame(image) for image in images]
        found = detect_faces_batch([to_rgb(f) for f in frames], threshold=request.face_threshold,
                                   min_face=request.min_face, flip=request.face_flip, detector=self.face_detector)
        return [self._faces_region(faces, height=frame.shape[-2], width=frame.shape[-1])
                for frame, faces in zip(frames, found, strict=True)]

    def find_near(self, image: torch.Tensor | np.ndarray, boxes: list[list[int]], *,
                  path: Path | None = None) -> Region:
        """Faces only: the region of the faces found near `boxes` (face boxes x0, y0, x1, y1, as in
        a faces Region's info) of the frame before (`localize.faces.detect_faces_near`)."""
        if self.request.kind != "faces":
            raise ValueError(f"find_near follows faces, not {self.request.kind} regions")
        from mosaicgan.localize.faces.detect import detect_faces_near

        request = self.request
        rgb_array = isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3
        frame = image if rgb_array else to_rgb(as_frame(image))  # a video frame stays uint8 (cut first)
        height, width = frame.shape[:2] if rgb_array else frame.shape[-2:]
        faces = detect_faces_near(frame, [tuple(b) for b in boxes], threshold=request.face_threshold,
                                  min_face=request.min_face, flip=request.face_flip, detector=self.face_detector)
        return self._faces_region(faces, height=height, width=width)

    def find_faces(self, frame: np.ndarray, *, known: list[tuple[float, float, float, float]] = (),
                   tiny: str = "confirm", min_face: float | None = None) -> list[FoundFace]:
        """Faces only, for video frames (uint8 RGB (H, W, 3)): every face of the frame, each with
        the box of the region its mask fills. known: detector boxes of faces followed from
        earlier frames (they need no mirror score, `FaceDetector.detect`). tiny: how faces under
        16 pixels are searched (video: "confirm", see `localize/faces/centerface.py`). min_face:
        the smallest face looked for, if not the request's (larger: a coarser, cheaper search)."""
        found = self.face_detector.detect([frame], threshold=self.request.face_threshold,
                                          min_face=min_face or self.request.min_face, flip=self.request.face_flip,
                                          known=[list(known)], tiny=tiny)[0]
        return [self.found_face(f, height=frame.shape[0], width=frame.shape[1]) for f in found]

    def follow_faces(self, frame: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> list[FoundFace | None]:
        """Faces only: each known face (its detector box where it is expected) found again in
        the frame, or None (`FaceDetector.follow`: one batch of small windows)."""
        found = self.face_detector.follow(frame, boxes, threshold=self.request.face_threshold,
                                          flip=self.request.face_flip, min_face=self.request.min_face)
        return [None if f is None else self.found_face(f, height=frame.shape[0], width=frame.shape[1]) for f in found]

    def found_face(self, face, *, height: int, width: int) -> FoundFace:
        """A `Face` of a frame (H, W) and the box of the pixels its mask fills."""
        from mosaicgan.localize.faces.detect import face_extent

        x0, y0, x1, y1 = face_extent(face, grow=self.request.face_grow)
        left, top = min(width - 1, max(0, math.floor(x0))), min(height - 1, max(0, math.floor(y0)))
        region = Box(left, top, max(left + 1, min(width, math.ceil(x1))), max(top + 1, min(height, math.ceil(y1))))
        return FoundFace(face=face, region=region)

    def _faces_region(self, faces: list, *, height: int, width: int) -> Region:
        """The mask of faces (grown, shaped as the request says) and their boxes; a face mostly
        inside a --keep area is left out of both (it is listed in "faces" as not applied)."""
        from mosaicgan.localize.faces.detect import face_box, face_mask

        request = self.request
        kept = [is_kept_face((f.x0, f.y0, f.x1, f.y1), request.keep) if request.keep else False for f in faces]
        used = [f for f, k in zip(faces, kept, strict=True) if not k]
        mask = face_mask(used, height=height, width=width, grow=request.face_grow, shape=request.face_shape)
        details = []
        for face, was_kept in zip(faces, kept, strict=True):
            own = face_mask([face], height=height, width=width, grow=request.face_grow, shape=request.face_shape)
            details.append({"box": list(face_box(face, height=height, width=width)), "score": round(face.score, 4),
                            "landmarks": [[round(x, 1), round(y, 1)] for x, y in face.landmarks],
                            "area": int(own.sum()), "applied": not was_kept})
        return Region(mask.float(), {"kind": "faces", "boxes": [list(face_box(f, height=height, width=width))
                                                                 for f in used], "faces": details})

    def _read_mask(self, image_path: Path | None, size: tuple[int, int]) -> tuple[torch.Tensor, Path]:
        mask_path = self.mask_file(image_path)
        what = f"the image ({Path(image_path).name})" if image_path is not None else "the image"
        mask = read_mask(mask_path, size=size, what=what)
        check_mask(torch.zeros(3, size[1], size[0]), mask, path=str(mask_path))
        return mask, mask_path

    def _boxes_mask(self, size: tuple[int, int], image_path: Path | None) -> torch.Tensor:
        width, height = size
        for x, y, w, h in self.request.boxes:
            if x >= width or y >= height or x + w <= 0 or y + h <= 0:
                raise UserError(f"box {x},{y},{w},{h} lies outside the {width}x{height} image", path=image_path)
        corners = [Box(x, y, x + w, y + h) for x, y, w, h in self.request.boxes]
        return boxes_to_mask(corners, height=height, width=width)[0]
