"""Finding mosaics that are already in an image, with no mask: where, and on which grid.

Three steps, each cheap enough for large photos:
1. Candidate grids: tiles of the image each fit a grid to their step votes
   (`mosaic_grid.fit_axis`); tiles where most steps fall on one grid propose it.
2. Blocks: for each proposed grid, every block of the image is scored by how flat it is
   inside against how much it steps at its lines. Mosaic blocks are flat inside and step at
   their lines; textures step everywhere, flat sky steps nowhere. Connected groups of enough
   such blocks are mosaics (a lone block is not evidence of anything). A group on JPEG's own
   8x8 grid must also stand out from the rest of the image on that grid (`_block_fit`: the
   block-mean model against the same on the grid moved by half a block), since a heavily
   compressed photo is blocky there everywhere it is smooth.
3. Outline: a mosaic only covers part of the blocks along its edge (`pixelate` blends blocks
   in through the mask), so in the edge blocks the pixels holding the block's flat value are
   kept and the others (original photo) left out.

The thresholds were set on held-out pairs and clean photos (benchmarks/mosaic_detect.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from mosaicgan.localize.mosaics.blocks import block_index, block_mean, block_rms, fill_holes, mosaic_outline, to_pixels
from mosaicgan.localize.mosaics.grid import fit_axis, grid_from_votes, luma, step_votes
from mosaicgan.ops.grid import Grid

TILE = 192
# A block may be mosaic when the mean step across its lines is at least EDGE_MIN levels, its
# inside varies by at most FLAT_RATIO of that (and FLAT_MAX levels: JPEG q75 leaves ~1-2), and
# at least VOTED_MIN of its sides' pixels are clean straight steps (`step_votes`; JPEG breaks
# many of them). A connected group of such blocks is a mosaic when, over the group, the inside
# varies by at most GROUP_FLAT of the steps and GROUP_VOTED of the side pixels vote: a facade
# of windows or a flat patch beside a straight edge passes for a block or two, not for a group.
EDGE_MIN = 2.0
FLAT_RATIO = 0.25
FLAT_MAX = 6.0
VOTED_MIN = 0.15
GROUP_FLAT = 0.45
GROUP_VOTED = 0.4
# ... and unless its inside is all but exactly flat (a clean mosaic), its median step is at most
# GROUP_EDGE_MAX: neighbouring blocks of a mosaic are averages of neighbouring patches of one
# photo, while window grids of a building step from black to white.
GROUP_EXACT = 0.02
GROUP_EDGE_MAX = 50.0
# A group on JPEG's own 8x8 grid counts only when its median fit ratio is at most JPEG_CONTRAST
# x that of the image's other textured blocks (at least JPEG_REST_BLOCKS of them) on that grid.
JPEG_CONTRAST = 0.3
JPEG_REST_BLOCKS = 8
# ... and when its blocks step by at least JPEG_EDGE_MIN levels (median): in a heavily
# compressed photo, smooth areas keep one value per 8x8 block and step by one quantisation
# step of that value, a few levels.
JPEG_EDGE_MIN = 8.0
MIN_SIDE = 4
MIN_PIXELS = 1024
MIN_BLOCKS = 3


@dataclass(frozen=True)
class FoundMosaic:
    """One mosaic found in an image: its pixels (bool (H, W)), bounding box (x0, y0, x1, y1)
    with x1, y1 exclusive, its grid, and how many whole blocks backed it."""

    mask: torch.Tensor
    box: tuple[int, int, int, int]
    grid: Grid
    blocks: int


# How mosaics are found in a whole image: (3, H, W) in [-1, 1] -> (mask (1, H, W), one
# FoundMosaic per region). `find_mosaics` is one; `detector.mosaic_detector` gives either.
DetectMosaics = Callable[[torch.Tensor], tuple[torch.Tensor, list[FoundMosaic]]]


def find_mosaics(image: torch.Tensor, *, max_grids: int = 16,
                 grids: list[Grid] | None = None) -> tuple[torch.Tensor, list[FoundMosaic]]:
    """All block mosaics in `image` ((C, H, W) in [-1, 1]).

    Returns (mask (1, H, W) float 0/1 over every mosaic found, one FoundMosaic per connected
    region); an empty mask and list when there is none. max_grids: how many proposed grids
    are checked block by block (the cost grows with it). grids: check only these (in the
    image's coordinates), skipping the search for candidates: a video follows a mosaic
    found in an earlier frame this way, at a fraction of the cost.
    """
    y = luma(image)
    rgb = to_pixels(image)
    h, w = y.shape
    votes_x, votes_y = step_votes(y)
    groups = []  # (whole blocks, pixels, grid that found them)
    # Blocks narrower than MIN_SIDE are left out: stripes (cloth, blinds) make such grids.
    if grids is None:
        grids = _candidate_grids(votes_x, votes_y)
    grids = [g for g in grids if min(g.block) >= MIN_SIDE]
    for grid in grids[:max_grids]:
        for core in _mosaic_blocks(y, votes_x, votes_y, grid):
            groups.append((int(core.sum()) * grid.block_h * grid.block_w, core, grid))
    # The same mosaic passes on its own grid and on grids of its divisors; the biggest
    # backing claims its pixels first, and the region's own steps then say which grid it is.
    claimed = np.zeros((h, w), dtype=bool)
    found: list[FoundMosaic] = []
    grids = {g[2] for g in groups}
    for _, core, grid in sorted(groups, key=lambda g: -g[0]):
        pixels = mosaic_outline(rgb, y, grid, core) & ~claimed
        # What a bigger find already claimed is gone; a remnant is no mosaic of its own.
        if pixels.sum() < max(MIN_PIXELS, core.sum() * grid.block_h * grid.block_w // 2):
            continue
        refined = grid_from_votes(votes_x, votes_y, inside=pixels) or grid
        if refined != grid and refined in grids:
            continue  # a multiple of the true grid, whose own group outlines the region better
        claimed |= pixels
        found.append(_found(pixels, refined, int(core.sum())))
    mask = torch.from_numpy(claimed.astype(np.float32))[None]
    return mask, sorted(found, key=lambda f: (f.box[1], f.box[0]))




def _found(pixels: np.ndarray, grid: Grid, blocks: int) -> FoundMosaic:
    ys, xs = np.nonzero(pixels)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return FoundMosaic(mask=torch.from_numpy(pixels.copy()), box=box, grid=grid, blocks=blocks)


def _candidate_grids(votes_x: np.ndarray, votes_y: np.ndarray, *, per_axis: int = 3) -> list[Grid]:
    """Grids proposed by tiles (half-overlapping), most strongly backed first. Each tile
    proposes its `per_axis` best fits per axis in every combination: in a JPEG of a textured
    photo, JPEG's own 8x8 grid can outvote a small mosaic within a tile."""
    h, w = votes_x.shape
    tile_h, tile_w = min(TILE, h), min(TILE, w)
    score: dict[Grid, float] = {}
    for y0 in _starts(h, tile_h):
        for x0 in _starts(w, tile_w):
            vx = votes_x[y0 : y0 + tile_h, x0 : x0 + tile_w]
            vy = votes_y[y0 : y0 + tile_h, x0 : x0 + tile_w]
            fxs = fit_axis(vx.sum(axis=0).astype(np.float64), top=per_axis)
            fys = fit_axis(vy.sum(axis=1).astype(np.float64), top=per_axis)
            for fx in fxs:
                for fy in fys:
                    if min(fx.lines, fy.lines) < 2 or min(fx.lift, fy.lift) < 1.5:
                        continue
                    grid = Grid(fy.block, fx.block, offset_y=fy.offset + y0, offset_x=fx.offset + x0)
                    score[grid] = max(score.get(grid, 0.0), min(fx.votes, fy.votes))
    return sorted(score, key=lambda g: -score[g])


def _starts(length: int, tile: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile // 2
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts




def _mosaic_blocks(y: np.ndarray, votes_x: np.ndarray, votes_y: np.ndarray, grid: Grid) -> list[np.ndarray]:
    """Connected groups of mosaic blocks on `grid`, each a bool array over the block grid."""
    h, w = y.shape
    rows = block_index(h, grid.block_h, grid.offset_y)
    cols = block_index(w, grid.block_w, grid.offset_x)
    nr, nc = int(rows[-1]) + 1, int(cols[-1]) + 1
    flat_sum = np.zeros((nr, nc))
    flat_n = np.zeros((nr, nc))
    edge_sum = np.zeros((nr, nc))
    edge_n = np.zeros((nr, nc))
    vote_sum = np.zeros((nr, nc))

    dx = np.abs(np.diff(y, axis=1))  # between columns c and c+1
    line_x = ((np.arange(1, w) - grid.offset_x) % grid.block_w) == 0
    dy = np.abs(np.diff(y, axis=0))
    line_y = ((np.arange(1, h) - grid.offset_y) % grid.block_h) == 0

    def add(target_sum, target_n, values, r_idx, c_idx):
        flat_ids = (r_idx[:, None] * nc + c_idx[None, :]).ravel()
        target_sum += np.bincount(flat_ids, weights=values.ravel(), minlength=nr * nc).reshape(nr, nc)
        if target_n is not None:
            target_n += np.bincount(flat_ids, minlength=nr * nc).reshape(nr, nc)

    add(flat_sum, flat_n, dx[:, ~line_x], rows, cols[:-1][~line_x])
    add(flat_sum, flat_n, dy[~line_y, :], rows[:-1][~line_y], cols)
    # A step across a line belongs to the blocks on both sides of it.
    vx = votes_x[:, 1:][:, line_x].astype(np.float64)
    vy = votes_y[1:, :][line_y, :].astype(np.float64)
    for side in (cols[:-1][line_x], cols[1:][line_x]):
        add(edge_sum, edge_n, dx[:, line_x], rows, side)
        add(vote_sum, None, vx, rows, side)
    for side in (rows[:-1][line_y], rows[1:][line_y]):
        add(edge_sum, edge_n, dy[line_y, :], side, cols)
        add(vote_sum, None, vy, side, cols)

    flat = flat_sum / np.maximum(flat_n, 1)
    edge = edge_sum / np.maximum(edge_n, 1)
    voted = vote_sum / np.maximum(edge_n, 1)
    # Blocks cut to less than half by the image border do not count: a thin flat strip along
    # a border (a frame, a black line left by a scanner) looks like a row of cut blocks.
    big_rows = np.bincount(rows, minlength=nr) * 2 >= grid.block_h
    big_cols = np.bincount(cols, minlength=nc) * 2 >= grid.block_w
    whole = big_rows[:, None] & big_cols[None, :]
    mosaic = (whole & (edge >= EDGE_MIN) & (voted >= VOTED_MIN) & (flat <= FLAT_RATIO * edge) & (flat <= FLAT_MAX)
              & (flat_n > 0))

    # Judged by the block's least flat inner column or row (its mean step along the block):
    # on a multiple of the true grid, a block holds whole mosaic lines, which a mean over all
    # its pixels would dilute but this does not.
    inner = np.maximum(_inner_line_max(dx, line_x, rows, cols[:-1], count=nc, axis=1),
                       _inner_line_max(dy, line_y, cols, rows[:-1], count=nr, axis=0))
    ratios = inner / np.maximum(edge, 1e-6)
    groups = []
    own, shifted = _block_fit(y, grid)
    fit_ratio = own / np.maximum(shifted, 1e-6)
    for core in _components(mosaic):
        # A loose block of photo (a defocused background) can touch a mosaic and ride on its
        # figures; blocks much less flat than the group's typical block are cut off again.
        core &= ratios <= 3 * float(np.median(ratios[core])) + 0.02
        for part in _components(core):
            if not _is_mosaic(part, grid, ratios=ratios, voted=voted, edge=edge):
                continue
            if _on_jpeg_lines(grid) and not (
                    _stands_out(part, fit_ratio, whole & (edge >= EDGE_MIN))
                    and float(np.median(edge[part])) >= JPEG_EDGE_MIN):
                continue
            noise = float(np.median(flat[part]))
            # Flat blocks beside the group join it: a mosaic block whose neighbours happen to
            # share its value has no step to show. As flat as the group's own blocks (a
            # defocused background still varies by a fraction of a level), two rounds only.
            for _ in range(2):
                near = cv2.dilate(part.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
                part = part | (near & (flat <= max(0.2, 1.5 * noise)) & (flat_n > 0))
            groups.append(fill_holes(part))
    return groups


def _block_fit(y: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Per block of `grid`: (own, shifted), how far (RMS, levels) its pixels stray from the
    block-mean (piecewise constant) model on the grid, and on the same grid moved by half a
    block, averaged over the four shifted blocks that overlap it.

    A mosaic block, even after JPEG (which rings, so its pixels are no longer equal), stays
    close to its mean, while the shifted blocks straddle its lines and stray by the steps
    between blocks; in a photo (a facade's periodic windows included) both models fit about
    as badly, since nothing in it is flat on exactly these lines."""
    own = block_rms(y, grid)
    half = Grid(grid.block_h, grid.block_w, grid.offset_y + grid.block_h // 2, grid.offset_x + grid.block_w // 2)
    shifted = block_rms(y, half)
    h, w = y.shape
    per_pixel = shifted[block_index(h, half.block_h, half.offset_y)[:, None],
                        block_index(w, half.block_w, half.offset_x)[None, :]]
    return own, block_mean(per_pixel, grid)






def _on_jpeg_lines(grid: Grid) -> bool:
    """Whether `grid`'s lines along each axis are JPEG's own block lines (every 8 px from 0),
    or lie among them (multiples of 8), or they among its lines (4)."""
    return all((b == 4 and o % 4 == 0) or (b % 8 == 0 and o % 8 == 0)
               for b, o in ((grid.block_h, grid.offset_y), (grid.block_w, grid.offset_x)))


def _stands_out(part: np.ndarray, fit_ratio: np.ndarray, textured: np.ndarray) -> bool:
    """For a group on JPEG's own grid: is it far more piecewise constant than the rest of the
    image on the same grid? A heavily compressed photo is blocky on that grid everywhere it is
    smooth; a mosaic is blocky where the photo around it is not. When the rest holds too few
    textured blocks to tell, it does not stand out."""
    rest = textured & ~cv2.dilate(part.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if rest.sum() < JPEG_REST_BLOCKS:
        return False
    return float(np.median(fit_ratio[part])) <= JPEG_CONTRAST * float(np.median(fit_ratio[rest]))


def _inner_line_max(d: np.ndarray, on_line: np.ndarray, along: np.ndarray, across: np.ndarray, *,
                    count: int, axis: int) -> np.ndarray:
    """Per block, the largest mean difference along one of its inner lines of pixel pairs.

    d: differences between neighbours along `axis` (pairs k | k+1); on_line[k]: pair k crosses a
    grid line (not inner); along: block index of each position along the other axis; across:
    block index of each pair along `axis`, of `count` blocks. Returns (block rows, block cols)."""
    if axis == 0:  # make it the column case: pairs run along axis 1
        return _inner_line_max(d.T, on_line, along, across, count=count, axis=1).T
    starts = np.flatnonzero(np.r_[True, np.diff(along) != 0])
    sums = np.add.reduceat(d, starts, axis=0)  # (block rows, pairs)
    means = sums / np.diff(np.r_[starts, d.shape[0]])[:, None]
    means[:, on_line] = 0.0
    cuts = np.flatnonzero(np.r_[True, np.diff(across) != 0])
    out = np.maximum.reduceat(means, cuts, axis=1)
    full = np.zeros((means.shape[0], count))
    full[:, across[cuts]] = out
    return full


def _components(blocks: np.ndarray) -> list[np.ndarray]:
    count, labels = cv2.connectedComponents(blocks.astype(np.uint8), connectivity=8)
    return [labels == k for k in range(1, count)]


def _is_mosaic(part: np.ndarray, grid: Grid, *, ratios: np.ndarray, voted: np.ndarray, edge: np.ndarray) -> bool:
    """The group tests (see the thresholds at the top): enough blocks, in two dimensions,
    flat inside against their steps, with clean steps, and not a black-and-white window grid."""
    ys, xs = np.nonzero(part)
    area = int(part.sum())
    if area < MIN_BLOCKS or np.ptp(ys) < 1 or np.ptp(xs) < 1 or area * grid.block_h * grid.block_w < MIN_PIXELS:
        return False
    ratio = float(np.median(ratios[part]))
    if ratio > GROUP_FLAT or float(voted[part].mean()) < GROUP_VOTED:
        return False
    return ratio <= GROUP_EXACT or float(np.median(edge[part])) <= GROUP_EDGE_MAX





