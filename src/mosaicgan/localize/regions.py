"""Heatmap -> mask, and the box helpers detections need (pad, IoU, merge).

Boxes are `ops.masks.Box(x0, y0, x1, y1)` with exclusive ends, the one box convention of the
package (`ops.masks.mask_to_boxes` / `boxes_to_mask` convert to and from masks). CAM heatmaps
and face detections both end in a mask, so `add` and `make-pairs` take one kind of region
whatever found it.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
import torch

from mosaicgan.ops.masks import Box, boxes_to_mask, mask_to_boxes

__all__ = ["Box", "box_iou", "boxes_to_mask", "heatmap_to_mask", "mask_to_boxes", "merge_boxes", "pad_box"]

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


def pad_box(box: Box, *, pad: float, size: tuple[int, int]) -> Box:
    """Grow a box by `pad` x its width/height on each side, clipped to an image of `size` (H, W)."""
    dx, dy = round(box.width * pad), round(box.height * pad)
    return Box(max(0, box.x0 - dx), max(0, box.y0 - dy), min(size[1], box.x1 + dx), min(size[0], box.y1 + dy))


def _intersection(a: Box, b: Box) -> int:
    ix = max(0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0, min(a.y1, b.y1) - max(a.y0, b.y0))
    return ix * iy


def box_iou(a: Box, b: Box) -> float:
    inter = _intersection(a, b)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def merge_boxes(boxes: Iterable[Box], *, iou: float = 0.3, cover: float = 0.6) -> list[Box]:
    """Replace every group of overlapping boxes by the box enclosing them.

    Two boxes join when their IoU exceeds `iou` or when their overlap covers more than `cover`
    of the smaller one (a detection inside another). For privacy the union is the safe
    choice: suppressing one of two detections could leave part of a face unmasked.
    """
    merged = [Box(*(int(v) for v in b)) for b in boxes]
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                smaller = min(a.area, b.area)
                if box_iou(a, b) > iou or (smaller > 0 and _intersection(a, b) / smaller > cover):
                    merged[i] = Box(min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1))
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return sorted(merged, key=lambda b: (b.y0, b.x0))
