"""Putting a processed region back: soft-mask compositing, and crop-around-region / paste-back.

A restoration network sees a crop around the region (with some context, at a size its
architecture accepts), and its output is blended back into the full image through the mask,
so that every pixel outside the mask stays exactly as it was.
"""

from __future__ import annotations

import math

import torch

from mosaicgan.ops.masks import Box, as_mask, mask_bbox


def composite(background: torch.Tensor, foreground: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """background * (1 - mask) + foreground * mask, exact at both ends.

    Where mask == 0 the output is the background bit for bit, whatever the foreground holds;
    where mask == 1 it is the foreground bit for bit (for finite images), where the textbook
    formula could round.
    Images (N, C, H, W) or (C, H, W); the mask is any shape `as_mask` accepts, broadcast over
    channels and, with batch size 1, over the batch. Returns the background's shape.
    """
    m = as_mask(mask, image=background)
    chw = background.ndim == 3
    bg = background[None] if chw else background
    fg = foreground[None] if foreground.ndim == 3 else foreground
    # lerp computes fg - (fg - bg) * (1 - m) for m >= 0.5, which is fg exactly at m == 1;
    # torch.where makes m == 0 exact whatever the foreground holds (even inf or nan).
    out = torch.where(m > 0, torch.lerp(bg, fg, m), bg)
    return out[0] if chw else out


def expand_box(
    box: Box | tuple[int, int, int, int],
    *,
    height: int,
    width: int,
    scale: float = 1.0,
    margin: int = 0,
    square: bool = False,
    multiple: int = 1,
) -> Box:
    """A crop box around `box`, for an image of `height` x `width`.

    In order: scale the box about its centre by `scale`, add `margin` pixels on every side,
    make it square (the longer side) if asked, round each side up to a multiple of `multiple`
    (a network's size constraint), and finally slide it inside the image. A side longer than
    the image is cut to the largest multiple that fits, so the result may then be smaller than
    the region, or not square; an image side shorter than `multiple` is a ValueError.
    """
    x0, y0, x1, y1 = box
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    w = (x1 - x0) * scale + 2 * margin
    h = (y1 - y0) * scale + 2 * margin
    if square:
        w = h = max(w, h)
    sides = []
    for size, limit, axis in ((w, width, "width"), (h, height, "height")):
        if limit < multiple:
            raise ValueError(f"image {axis} {limit} is smaller than the size multiple {multiple}")
        size = max(multiple, math.ceil(size / multiple - 1e-9) * multiple)
        sides.append(min(size, limit // multiple * multiple))
    w, h = sides
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    nx0 = min(max(math.floor(cx - w / 2 + 0.5), 0), width - w)
    ny0 = min(max(math.floor(cy - h / 2 + 0.5), 0), height - h)
    return Box(nx0, ny0, nx0 + w, ny0 + h)


def region_box(mask: torch.Tensor, *, threshold: float = 0.0, **expand) -> Box:
    """`expand_box` around the bounding box of mask > threshold (one image's mask).

    Keyword arguments after `threshold` are those of `expand_box` (scale, margin, square,
    multiple). An empty mask is a ValueError: there is no region to crop around.
    """
    bbox = mask_bbox(mask, threshold=threshold)
    if bbox is None:
        raise ValueError("the mask is empty: no region to crop around")
    height, width = mask.shape[-2:]
    return expand_box(bbox, height=height, width=width, **expand)


def crop_box(image: torch.Tensor, box: Box | tuple[int, int, int, int]) -> torch.Tensor:
    """The part of `image` (..., H, W) inside the box: a view, not a copy."""
    x0, y0, x1, y1 = box
    if not (0 <= x0 < x1 <= image.shape[-1] and 0 <= y0 < y1 <= image.shape[-2]):
        raise ValueError(f"box {tuple(box)} is empty or outside the image of size {tuple(image.shape[-2:])}")
    return image[..., y0:y1, x0:x1]


def paste_box(
    image: torch.Tensor,
    patch: torch.Tensor,
    box: Box | tuple[int, int, int, int],
    *,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """A copy of `image` with `patch` blended into the box through `mask`.

    `patch` is (…, box height, box width). `mask` is None (the patch replaces the box), a mask
    of the patch's size, or a mask of the full image's size (its box is cut out); pixels
    outside the box, and inside it wherever the mask is 0, keep their exact values.
    """
    region = crop_box(image, box)
    if patch.shape[-2:] != region.shape[-2:]:
        raise ValueError(f"patch is {tuple(patch.shape[-2:])} but the box is {tuple(region.shape[-2:])}")
    out = image.clone()
    if mask is None:
        blended = patch.expand_as(region)
    else:
        if mask.shape[-2:] == image.shape[-2:] and mask.shape[-2:] != region.shape[-2:]:
            mask = crop_box(mask, box)
        blended = composite(region, patch.expand_as(region), mask)
    crop_box(out, box).copy_(blended)
    return out
