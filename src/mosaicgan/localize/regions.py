"""Heatmap -> mask -> boxes, and boxes -> mask: the shapes every localizer hands on.

A box is `(x, y, w, h)` in pixels (OpenCV's order: left, top, width, height), and a mask is a
bool tensor (H, W), True inside the region. CAM heatmaps and face detections both end here,
so `add` and `make-pairs` take one kind of region whatever found it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np
import torch

Box = tuple[int, int, int, int]
KEEP = ("largest", "peak", "all")


def _components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a bool (H, W) array: count (with background 0), labels, stats."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return count, labels, stats


def heatmap_to_mask(heatmap: torch.Tensor, *, threshold: float = 0.5, keep: str = "largest") -> torch.Tensor:
    """Threshold a heatmap (H, W) or (N, H, W) at `threshold` times its strongest response.

    keep: "largest" keeps the largest connected region above the threshold, "peak" the region
    holding the maximum, "all" every region. The threshold is relative to each map's own
    maximum, so raw (unnormalised) maps work too; a map with no positive value gives an
    empty mask. Returns a bool tensor of the heatmap's shape.
    """
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {KEEP}, got {keep!r}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if heatmap.ndim == 3:
        return torch.stack([heatmap_to_mask(h, threshold=threshold, keep=keep) for h in heatmap])
    if heatmap.ndim != 2:
        raise ValueError(f"expected a heatmap (H, W) or (N, H, W), got shape {tuple(heatmap.shape)}")
    values = heatmap.detach().float().cpu()
    peak = float(values.max())
    if peak <= 0:
        return torch.zeros(values.shape, dtype=torch.bool)
    above = (values >= threshold * peak).numpy()
    if keep == "all":
        return torch.from_numpy(above)
    count, labels, stats = _components(above)
    if keep == "largest":
        chosen = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    else:
        y, x = np.unravel_index(int(values.argmax()), values.shape)
        chosen = int(labels[y, x])
    return torch.from_numpy(labels == chosen)


def mask_to_boxes(mask: torch.Tensor | np.ndarray, *, min_area: int = 1, pad: float = 0.0) -> list[Box]:
    """Bounding box of every 8-connected region of a (H, W) mask, largest region first.

    Regions under `min_area` pixels are dropped. `pad` grows each box by that fraction of its
    width and height on every side (clipped to the image): a margin for privacy mosaics.
    """
    arr = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"expected a mask (H, W), got shape {arr.shape}")
    count, _, stats = _components(arr.astype(bool))
    height, width = arr.shape
    found = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area >= min_area:
            found.append((area, pad_box((x, y, w, h), pad=pad, size=(height, width))))
    found.sort(key=lambda item: -item[0])
    return [box for _, box in found]


def pad_box(box: Box, *, pad: float, size: tuple[int, int]) -> Box:
    """Grow a box by `pad` x its width/height on each side, clipped to an image of `size` (H, W)."""
    x, y, w, h = box
    dx, dy = round(w * pad), round(h * pad)
    left, top = max(0, x - dx), max(0, y - dy)
    right, bottom = min(size[1], x + w + dx), min(size[0], y + h + dy)
    return (left, top, right - left, bottom - top)


def boxes_to_mask(boxes: Iterable[Sequence[int]], *, size: tuple[int, int]) -> torch.Tensor:
    """Bool mask (H, W) of `size`, True inside any box (boxes may reach past the edges)."""
    mask = torch.zeros(size, dtype=torch.bool)
    for x, y, w, h in boxes:
        mask[max(0, int(y)):max(0, int(y + h)), max(0, int(x)):max(0, int(x + w))] = True
    return mask


def _intersection(a: Box, b: Box) -> int:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy


def box_iou(a: Box, b: Box) -> float:
    inter = _intersection(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def merge_boxes(boxes: Iterable[Box], *, iou: float = 0.3, cover: float = 0.6) -> list[Box]:
    """Replace every group of overlapping boxes by the box enclosing them.

    Two boxes join when their IoU exceeds `iou` or when their overlap covers more than `cover`
    of the smaller one (a detection inside another). For privacy the union is the safe
    choice: suppressing one of two detections could leave part of a face unmasked.
    """
    merged = [tuple(int(v) for v in b) for b in boxes]
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                smaller = min(a[2] * a[3], b[2] * b[3])
                if box_iou(a, b) > iou or (smaller > 0 and _intersection(a, b) / smaller > cover):
                    left, top = min(a[0], b[0]), min(a[1], b[1])
                    right, bottom = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
                    merged[i] = (left, top, right - left, bottom - top)
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return sorted(merged, key=lambda b: (b[1], b[0]))
