"""Per-block statistics on a grid, and a mosaic's outline to the pixel: shared by the classical
finder (`finder`) and the detector network's region reader (`detector`)."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from mosaicgan.ops.grid import Grid

# After JPEG, edge-block pixels may also stray STRAY_K x the core blocks' RMS stray (10th percentile).
STRAY_K = 3.0


def to_pixels(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) [-1, 1] -> float32 (H, W, C) in [0, 255], alpha dropped."""
    px = (image.detach().float().cpu().clamp(-1, 1).numpy() + 1.0) * 127.5
    return np.ascontiguousarray(px[: 3 if px.shape[0] >= 3 else 1].transpose(1, 2, 0))


def block_index(length: int, block: int, offset: int) -> np.ndarray:
    """Block number of each position along an axis (0 for the first, possibly cut, block)."""
    pos = np.arange(length)
    return (pos - offset) // block - ((0 - offset) // block)


def block_mean(values: np.ndarray, grid: Grid) -> np.ndarray:
    h, w = values.shape
    rows = block_index(h, grid.block_h, grid.offset_y)
    cols = block_index(w, grid.block_w, grid.offset_x)
    nr, nc = int(rows[-1]) + 1, int(cols[-1]) + 1
    ids = (rows[:, None] * nc + cols[None, :]).ravel()
    n = np.bincount(ids, minlength=nr * nc)
    sums = np.bincount(ids, weights=values.ravel().astype(np.float64), minlength=nr * nc)
    return (sums / np.maximum(n, 1)).reshape(nr, nc)


def block_rms(y: np.ndarray, grid: Grid) -> np.ndarray:
    h, w = y.shape
    rows = block_index(h, grid.block_h, grid.offset_y)
    cols = block_index(w, grid.block_w, grid.offset_x)
    nr, nc = int(rows[-1]) + 1, int(cols[-1]) + 1
    ids = (rows[:, None] * nc + cols[None, :]).ravel()
    v = y.astype(np.float64).ravel()
    n = np.bincount(ids, minlength=nr * nc)
    s = np.bincount(ids, weights=v, minlength=nr * nc)
    s2 = np.bincount(ids, weights=v * v, minlength=nr * nc)
    var = s2 / np.maximum(n, 1) - (s / np.maximum(n, 1)) ** 2
    return np.sqrt(np.maximum(var, 0.0)).reshape(nr, nc)


def mosaic_outline(rgb: np.ndarray, y: np.ndarray, grid: Grid, core: np.ndarray) -> np.ndarray:
    """Pixels of the mosaic around `core` (bool over blocks): whole core blocks, and in the
    ring of blocks around it only the pixels that hold their block's flat value."""
    h, w = y.shape
    rows = block_index(h, grid.block_h, grid.offset_y)
    cols = block_index(w, grid.block_w, grid.offset_x)
    ring = cv2.dilate(core.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    in_core = core[rows[:, None], cols[None, :]]
    in_ring = ring[rows[:, None], cols[None, :]] & ~in_core
    # How far a mosaic pixel may stray from its block's value: 1 level (rounding) for a clean
    # mosaic, more after lossy compression, read from the core blocks' own spread. Colour gets
    # twice that: JPEG halves its resolution (4:2:0) and smears it further than luma.
    core_dev = np.abs(np.diff(y, axis=1))[in_core[:, 1:] & in_core[:, :-1]]
    tol = max(1.5, 3.0 * float(np.median(core_dev))) if core_dev.size else 1.5
    if tol > 1.5:  # lossy: JPEG rings hardest at the mosaic's edge, in exactly these blocks
        tol = max(tol, STRAY_K * float(np.percentile(block_rms(y, grid)[core], 10)))
    tol_rgb = 2.0 * tol if tol > 1.5 else tol
    keep = in_core.copy()
    for br, bc in zip(*np.nonzero(ring & ~core), strict=True):
        r = np.nonzero(rows == br)[0]
        c = np.nonzero(cols == bc)[0]
        block = rgb[r[0] : r[-1] + 1, c[0] : c[-1] + 1].reshape(-1, rgb.shape[2])
        value = _mode_value(block, tol)
        block_y = y[r[0] : r[-1] + 1, c[0] : c[-1] + 1].ravel()
        value_y = (float(np.median(block_y[np.abs(block - value).max(axis=1) <= tol])) if rgb.shape[2] == 3
                   else float(value[0]))
        close = (np.abs(block_y - value_y) <= tol) & (np.abs(block - value).max(axis=1) <= tol_rgb)
        keep[r[0] : r[-1] + 1, c[0] : c[-1] + 1] |= close.reshape(len(r), len(c))
    keep &= in_core | in_ring
    # Only what touches the core: a flat patch of photo in a ring block that is cut off is not it.
    _, labels = cv2.connectedComponents(keep.astype(np.uint8), connectivity=4)
    touching = np.unique(labels[in_core & keep])
    keep = np.isin(labels, touching[touching > 0])
    return fill_holes(keep)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """mask with every area not connected to its border set (4-connected background)."""
    padded = np.pad(mask.astype(np.uint8), 1)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    holes = flood[1:-1, 1:-1] == 0
    return mask | holes


def _mode_value(pixels: np.ndarray, tol: float) -> np.ndarray:
    """The most common colour of a block's pixels (N, C), to within tol: its flat value."""
    step = max(tol, 1.0)
    keys = np.round(pixels / step).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    best = int(np.argmax(counts))
    return np.median(pixels[inverse.ravel() == best], axis=0)
