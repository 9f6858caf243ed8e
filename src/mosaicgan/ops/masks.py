"""Region masks: accepted shapes, checks, grow/shrink, feather, and masks <-> boxes.

A mask is a float tensor in [0, 1], 1 inside the region, of any shape of region. The ops take
(H, W), (1, H, W) or (N, 1, H, W); a mask with batch size 1 applies to every image of a batch.
Values between 0 and 1 are a soft edge (a feathered border); a bool mask is read as 0/1.

Boxes are `Box(x0, y0, x1, y1)` in pixels with exclusive ends, so `image[..., y0:y1, x0:x1]`
is the box. Box functions work on one image's mask at a time because the number of regions
differs from image to image.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mosaicgan.errors import UserError

MASK_SHAPES = "(H, W), (1, H, W) or (N, 1, H, W)"


class Box(NamedTuple):
    """A pixel box (x0, y0, x1, y1), ends exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return self.width * self.height


def as_mask(mask: torch.Tensor, *, image: torch.Tensor | None = None) -> torch.Tensor:
    """A mask as a float tensor (N, 1, H, W), a view where no conversion is needed.

    With `image` ((C, H, W) or (N, C, H, W)), the mask must have the image's height and width
    and a batch size of 1 or the image's; it takes the image's floating dtype. Shapes are
    checked here (cheap); values are not, see `check_mask` for that.
    """
    if mask.ndim == 2:
        mask = mask[None, None]
    elif mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[None]
    elif not (mask.ndim == 4 and mask.shape[1] == 1):
        raise ValueError(f"a mask must be {MASK_SHAPES}; got shape {tuple(mask.shape)}")
    dtype = image.dtype if image is not None and image.is_floating_point() else None
    if dtype is None:
        dtype = mask.dtype if mask.is_floating_point() else torch.float32
    mask = mask.to(dtype)
    if image is not None:
        if image.ndim not in (3, 4):
            raise ValueError(f"an image must be (C, H, W) or (N, C, H, W); got shape {tuple(image.shape)}")
        n = image.shape[0] if image.ndim == 4 else 1
        if mask.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f"mask is {mask.shape[-1]}x{mask.shape[-2]} (WxH) but the image is "
                f"{image.shape[-1]}x{image.shape[-2]}"
            )
        if mask.shape[0] not in (1, n):
            raise ValueError(f"mask batch size {mask.shape[0]} does not match the image batch size {n}")
    return mask


def check_mask(image: torch.Tensor, mask: torch.Tensor, *, path: str | None = None) -> torch.Tensor:
    """`as_mask` for user input: every problem is a one-line UserError (naming `path` if given).

    Checks the shape, that the mask has the image's size, that values are in [0, 1], and that
    no image is left with an empty mask (a region that covers nothing is almost always a wrong
    file or a wrong threshold). Returns the mask as (N, 1, H, W).
    """
    try:
        mask = as_mask(mask, image=image)
    except ValueError as err:
        raise UserError(str(err), path=path) from None
    if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise UserError("mask values must lie in [0, 1] (1 = inside the region)", path=path)
    empty = (mask.flatten(1).amax(dim=1) <= 0).nonzero().flatten().tolist()
    if empty:
        where = "" if mask.shape[0] == 1 else f" for image(s) {', '.join(map(str, empty))} of the batch"
        raise UserError(f"mask is empty{where}: no pixel is inside the region", path=path)
    return mask


def grow_mask(mask: torch.Tensor, *, radius: int, shape: str = "disc") -> torch.Tensor:
    """Dilate (`radius` > 0) or erode (`radius` < 0) a mask by |radius| pixels.

    `shape` is the structuring element: "disc" (offsets with dy^2 + dx^2 <= r^2) or "square"
    (Chebyshev distance <= r). Soft masks grow as a max (shrink as a min) over the element.
    The image border neither grows nor shrinks a region: a region cut by the border is taken
    to continue beyond it. Returns (N, 1, H, W).
    """
    mask = as_mask(mask)
    if shape not in ("disc", "square"):
        raise ValueError(f"shape must be 'disc' or 'square', got {shape!r}")
    if radius == 0:
        return mask
    r = abs(radius)
    # Erosion is dilation of the complement; the zero padding of the complement is what makes
    # the outside of the image count as "inside" and leaves border regions unshrunk.
    work = mask if radius > 0 else 1 - mask
    grown = _dilate_square(work, r) if shape == "square" else _dilate_disc(work, r)
    return grown if radius > 0 else 1 - grown


def _dilate_square(m: torch.Tensor, r: int) -> torch.Tensor:
    # Separable: a (2r+1)-square max is a row max then a column max.
    m = F.max_pool2d(m, (1, 2 * r + 1), stride=1, padding=(0, r))
    return F.max_pool2d(m, (2 * r + 1, 1), stride=1, padding=(r, 0))


def _dilate_disc(m: torch.Tensor, r: int) -> torch.Tensor:
    # A disc is a stack of horizontal runs: row dy spans dx in [-w, w], w = isqrt(r^2 - dy^2).
    # rows[w] = max over a run of half-width w, built one pixel wider per step (r cheap steps),
    # then each run is shifted by its dy. The loop is over the radius, not over pixels.
    rows = [m]
    for _ in range(r):
        rows.append(F.max_pool2d(rows[-1], (1, 3), stride=1, padding=(0, 1)))
    h = m.shape[-2]
    out = rows[r]
    for dy in range(1, r + 1):
        run = F.pad(rows[math.isqrt(r * r - dy * dy)], (0, 0, dy, dy))  # zeros: nothing beyond
        out = torch.maximum(out, torch.maximum(run[..., : h, :], run[..., 2 * dy :, :]))
    return out


def feather_mask(mask: torch.Tensor, *, width: int) -> torch.Tensor:
    """Soft edge of `width` pixels laid just outside the mask.

    The result is 1 wherever the mask is 1, falls along a straight edge as (width + 1 - d) /
    (width + 1) at d = 1..width pixels outside, and is exactly 0 beyond a (Chebyshev) distance
    of `width`: the region itself stays fully covered and nothing farther out is touched.
    For a ramp inside the region instead, shrink first: `feather_mask(grow_mask(m, radius=-w), width=w)`.

    Computed as a max filter then a mean filter, both over the same (width + 1)-pixel window,
    mirrored (so the edge stays in place for odd widths too); both separable, so the cost does
    not grow with the area of the window. Returns (N, 1, H, W).
    """
    mask = as_mask(mask)
    if width < 0:
        raise ValueError(f"feather width must be >= 0, got {width}")
    if width == 0:
        return mask
    k = width + 1
    lo, hi = width // 2, width - width // 2
    # Max over [x - hi, x + lo]: grows the region just enough that the mean below stays 1 on it.
    m = F.pad(mask, (hi, lo, hi, lo))
    m = F.max_pool2d(F.max_pool2d(m, (1, k), stride=1), (k, 1), stride=1)
    # Mean over [x - lo, x + hi]; replicate padding keeps a region that touches the border at 1.
    m = F.pad(m, (lo, hi, lo, hi), mode="replicate")
    return F.avg_pool2d(F.avg_pool2d(m, (1, k), stride=1), (k, 1), stride=1)


def _single(mask: torch.Tensor) -> torch.Tensor:
    mask = as_mask(mask)
    if mask.shape[0] != 1:
        raise ValueError(f"expected the mask of one image, got a batch of {mask.shape[0]}")
    return mask[0, 0]


def mask_bbox(mask: torch.Tensor, *, threshold: float = 0.0) -> Box | None:
    """Bounding box of the pixels with mask > threshold (one image), or None if there are none."""
    inside = _single(mask) > threshold
    rows = inside.any(dim=1).nonzero().flatten()
    if rows.numel() == 0:
        return None
    cols = inside.any(dim=0).nonzero().flatten()
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def mask_to_boxes(
    mask: torch.Tensor, *, threshold: float = 0.0, min_area: int = 1, connectivity: int = 8
) -> list[Box]:
    """One box per connected region of mask > threshold (one image), largest first.

    Regions with fewer than `min_area` pixels are dropped (specks from a thresholded heatmap).
    `connectivity` is 8 (diagonal neighbours join) or 4.
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    inside = (_single(mask) > threshold).to(torch.uint8).cpu().numpy()
    # Labelled on the rows and columns that hold the mask only (a face in a video frame is a
    # small part of it): the same regions, several times faster on a 720p frame.
    rows = np.flatnonzero(inside.any(axis=1))
    if rows.size == 0:
        return []
    cols = np.flatnonzero(inside.any(axis=0))
    y0, x0 = int(rows[0]), int(cols[0])
    part = np.ascontiguousarray(inside[y0:int(rows[-1]) + 1, x0:int(cols[-1]) + 1])
    count, _, stats, _ = cv2.connectedComponentsWithStats(part, connectivity=connectivity)
    boxes = []
    for x, y, w, h, area in stats[1:]:  # label 0 is the background
        if area >= min_area:
            boxes.append((int(area), Box(int(x) + x0, int(y) + y0, int(x + w) + x0, int(y + h) + y0)))
    boxes.sort(key=lambda item: -item[0])
    return [box for _, box in boxes]


def boxes_to_mask(
    boxes: list[Box] | list[tuple[int, int, int, int]] | torch.Tensor,
    *,
    height: int,
    width: int,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The union of boxes (x0, y0, x1, y1), ends exclusive, as a 0/1 mask (1, H, W)."""
    if isinstance(boxes, torch.Tensor):
        b = boxes.to(device=device, dtype=torch.int64).reshape(-1, 4)
    else:
        b = torch.as_tensor(np.asarray(boxes, dtype=np.int64).reshape(-1, 4), device=device)
    ys = torch.arange(height, device=device)
    xs = torch.arange(width, device=device)
    in_rows = (ys[None, :] >= b[:, 1:2]) & (ys[None, :] < b[:, 3:4])  # (K, H)
    in_cols = (xs[None, :] >= b[:, 0:1]) & (xs[None, :] < b[:, 2:3])  # (K, W)
    inside = (in_rows[:, :, None] & in_cols[:, None, :]).any(dim=0)
    return inside.to(torch.float32)[None]
