"""The box helpers detectors need: pad, IoU, merge overlapping boxes.

Boxes are `ops.masks.Box(x0, y0, x1, y1)` with exclusive ends, the one box convention of the
package (`ops.masks.mask_to_boxes` / `boxes_to_mask` convert to and from masks, and are
re-exported here for detectors). Face boxes and CAM masks (`cam.heatmap_to_mask`) both end in
a mask, so `add` and `make-pairs` (through `infer.region_finder`) take one kind of region
whatever found it.
"""

from __future__ import annotations

from collections.abc import Iterable

from mosaicgan.ops.masks import Box, boxes_to_mask, mask_to_boxes

__all__ = ["Box", "box_iou", "boxes_to_mask", "mask_to_boxes", "merge_boxes", "pad_box"]

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
