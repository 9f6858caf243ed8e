"""Which recipe made a mosaic: block statistics that tell the recipes apart.

A block value alone cannot say whether it is a mean, one pixel or a minimum; the pixels around
the mosaic can. Two kinds of evidence, both computed on luma in 0-255 levels:

1. The boundary (`_boundary`): the photo around a mosaic is the same photo, so applying each
   candidate recipe to the clean blocks outside the region gives values that continue the
   region's own values seamlessly only for the recipe that made them. Per candidate: how much
   the values step across the region's edge, against how much they step between clean blocks
   (a mean mosaic of a photo steps less than its top-left pixels do; a minimum sits below
   everything around it; a top-left mosaic continues its surroundings shifted by half a block),
   the signed step (min / max sit below / above), and how rough the region's values are
   against the candidate's values outside.
2. Cut blocks (`_cut_blocks`): where the region's outline cuts a block, its clean pixels are
   still there beside the block's value: a top-left or centre pixel mosaic shows that pixel's
   exact value (to JPEG's noise), a mean is near the clean pixels' mean, a minimum is below all
   of them, a maximum above.

The recipe itself is decided by a small learned head on these statistics (`nets.restorer`, its
`recipe head`), trained with the restorer on the recipe mix, so that its thresholds come from
training photos and it reports how sure it is. Families rather than recipes: recipes that a
restorer treats alike are one answer (`FAMILY_OF`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from mosaicgan.choices import MOSAIC_RECIPES
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.recipes import block_values
from mosaicgan.ops.unmosaic import block_layout, block_means, full_blocks

# What a restorer needs to know about a recipe: average-like values (a mean, a median, Pillow's
# antialiased filters), a pixel near the block centre (its own value or a few taps around it),
# the top-left pixel (half a block away from the centre), the minimum, the maximum.
FAMILIES = ("average", "centre-pixel", "top-left-pixel", "min", "max")
FAMILY_OF = {
    "mean": "average", "median": "average", "pil-bilinear": "average", "pil-bicubic": "average",
    "nearest-centre": "centre-pixel", "random-pixel": "centre-pixel", "bilinear": "centre-pixel",
    "bicubic": "centre-pixel", "nearest": "top-left-pixel", "min": "min", "max": "max",
}
assert set(FAMILY_OF) == set(MOSAIC_RECIPES)
# The recipe whose measurement a family's values are placed and projected by.
FAMILY_RECIPE = {"average": "mean", "centre-pixel": "nearest-centre", "top-left-pixel": "nearest", "min": "min",
                 "max": "max"}
# Candidates applied to the clean blocks around the region (random-pixel and median add nothing
# the others do not show; bicubic sits between bilinear and nearest-centre).
CANDIDATES = ("mean", "nearest", "nearest-centre", "bilinear", "pil-bicubic", "min", "max")
OFFSETS = ((0, 1), (1, 0), (0, 2), (2, 0))  # lattice neighbours compared (both directions)
PROBES = ("mean", "nearest", "nearest-centre")  # what a block value is compared with beside the block
# A minimum or maximum read where there is none darkens or brightens the whole region (about 4 dB
# lost against reading it as what it is, on pairs from the train photos), far more than the
# mosaic as it is; missing one costs a gain, not a loss against the mosaic. So the head's min and
# max count only from this probability up (below it their share goes to the other families). Set
# on 3000 pairs from the train photos (every recipe alike): at 0.5 (plain argmax) 0.77% of the
# other mosaics were read as min or max, at 0.7 0.28%, with 66% of the true ones kept; higher
# values dropped true ones without removing more false ones.
BOUND_TRUST = 0.7
STATS = 3 * len(CANDIDATES) + 9 + 4 * len(PROBES) + 2 + 4


@dataclass(frozen=True)
class RecipeEstimate:
    """What a recipe head said about one mosaic: the most likely family, its probability, and
    the probability of every family (in the order of FAMILIES)."""

    family: str
    probability: float
    probabilities: tuple[float, ...]

    @classmethod
    def from_head(cls, probs: torch.Tensor) -> RecipeEstimate:
        """From the recipe head's probabilities, min and max kept only where they reach
        BOUND_TRUST (see there)."""
        probs = probs.double().clone()
        for family in ("min", "max"):
            k = FAMILIES.index(family)
            if probs[k] < BOUND_TRUST:
                probs[k] = 0.0
        return cls.from_probabilities(probs / probs.sum())

    @classmethod
    def from_probabilities(cls, probs: torch.Tensor) -> RecipeEstimate:
        values = tuple(round(float(p), 4) for p in probs)
        best = max(range(len(values)), key=lambda k: values[k])
        return cls(FAMILIES[best], values[best], values)

    def to_dict(self) -> dict:
        """Flat, so that a region's record stays one line in `mosaicgan info`."""
        return {"recipe": self.family, "recipe_probability": round(self.probability, 2)}


class RecipeMemory:
    """One reading of the recipe for a whole video: the running mean of the probabilities read
    in its frames, so that a restoration does not switch how it reads the blocks from one frame
    to the next (a video is pixelated by one tool). After SETTLE readings it stops reading."""

    SETTLE = 12

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.count = 0

    @property
    def settled(self) -> bool:
        return self.count >= self.SETTLE

    @property
    def estimate(self) -> RecipeEstimate | None:
        return None if self.total is None else RecipeEstimate.from_probabilities(self.total / self.count)

    def add(self, reading: RecipeEstimate | None) -> RecipeEstimate | None:
        if reading is not None:
            probs = torch.tensor(reading.probabilities, dtype=torch.float64)
            self.total = probs if self.total is None else self.total + probs
            self.count += 1
        return self.estimate


def recipe_statistics(image: torch.Tensor, mask: torch.Tensor, grid: Grid) -> torch.Tensor:
    """(STATS,) float32 statistics of the mosaic inside `mask` on `grid`.

    image: (C, H, W) in [-1, 1] (C = 1 or 3) around the region, the more clean context the
    better; mask: (H, W) or (1, H, W), > 0.5 where the mosaic is. Statistics that a crop cannot
    give (no clean blocks, no cut blocks) are 0, with flags that say so."""
    y = _luma(image)[None, None]
    inside = (mask.reshape(-1, *mask.shape[-2:])[0] > 0.5).to(torch.float64)[None, None]
    boundary = _boundary(y, inside, grid)
    cut = _cut_blocks(y, inside, grid)
    probes = _probes(y, inside, grid)
    alias = _aliasing(y, inside, grid)
    sizes = torch.tensor([math.log2(grid.block_h), math.log2(grid.block_w)], dtype=torch.float64)
    lay = block_layout(grid, height=y.shape[-2], width=y.shape[-1])
    share = block_means(inside, grid)
    counts = torch.tensor([float((share >= 1).sum()), float((share <= 0).sum())], dtype=torch.float64)
    flags = (counts.clamp(max=64) / 64) if lay.rows * lay.cols else counts
    return torch.cat([boundary, cut, probes, alias, sizes, flags]).float()


def _luma(image: torch.Tensor) -> torch.Tensor:
    x = image.detach().double().cpu().clamp(-1, 1).add(1).mul(127.5)
    if x.shape[0] == 1:
        return x[0]
    return 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]


def _pairs(a: torch.Tensor, b: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Index pairs (flat) of lattice positions where `a` holds at one end and `b` at the other,
    at every offset of OFFSETS in both directions."""
    rows, cols = a.shape
    out = []
    for dy, dx in OFFSETS:
        for sy, sx in ((dy, dx), (-dy, -dx)):
            ya, yb = slice(max(0, -sy), rows - max(0, sy)), slice(max(0, sy), rows - max(0, -sy))
            xa, xb = slice(max(0, -sx), cols - max(0, sx)), slice(max(0, sx), cols - max(0, -sx))
            both = a[ya, xa] & b[yb, xb]
            idx = torch.arange(rows * cols).view(rows, cols)
            out.append((idx[ya, xa][both], idx[yb, xb][both]))
    return out


def _median_abs(pairs, va: torch.Tensor, vb: torch.Tensor, *, signed: bool = False) -> float | None:
    diffs = torch.cat([va[i] - vb[j] for i, j in pairs]) if pairs else torch.zeros(0)
    if diffs.numel() < 4:
        return None
    return float(diffs.median()) if signed else float(diffs.abs().median())


def _boundary(y: torch.Tensor, inside: torch.Tensor, grid: Grid) -> torch.Tensor:
    share = block_means(inside, grid)[0, 0]
    core = full_blocks(inside, grid)[0, 0]
    clean = share <= 0
    observed = block_means(y, grid)[0, 0].flatten()
    across = _pairs(core, clean)
    between = _pairs(clean, clean)
    within = _median_abs(_pairs(core, core), observed, observed)
    feats = []
    for recipe in CANDIDATES:
        values = block_values(y, grid, recipe=recipe)[0, 0].flatten()
        step = _median_abs(across, observed, values)
        bias = _median_abs(across, observed, values, signed=True)
        rough = _median_abs(between, values, values)
        if step is None or rough is None or within is None:
            feats += [0.0, 0.0, 0.0]
            continue
        scale = rough + 1.0
        feats += [math.log((step + 1.0) / scale), bias / scale, math.log((within + 1.0) / scale)]
    return torch.tensor(feats, dtype=torch.float64)


def _cut_blocks(y: torch.Tensor, inside: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Statistics of the blocks the outline cuts: (9,) = for the top-left pixel, the centre
    pixel, the clean pixel nearest the value and the clean pixels' mean, the log of the median
    distance of the block's value from it (over blocks where it is clean), relative to the clean
    pixels' spread; the share of clean pixels
    below / above the value; and how many blocks gave the pixel figures (0..1)."""
    h, w = y.shape[-2:]
    lay = block_layout(grid, height=h, width=w)
    bh, bw = grid.block_h, grid.block_w
    pad = (lay.left, lay.right, lay.top, lay.bottom)
    yp = torch.nn.functional.pad(y, pad, value=float("nan"))[0, 0]
    mp = torch.nn.functional.pad(inside, pad, value=-1.0)[0, 0]  # -1: no pixel there
    blocks_y = yp.view(lay.rows, bh, lay.cols, bw).permute(0, 2, 1, 3).reshape(lay.rows * lay.cols, bh * bw)
    blocks_m = mp.view(lay.rows, bh, lay.cols, bw).permute(0, 2, 1, 3).reshape(lay.rows * lay.cols, bh * bw)
    mosaic, visible = blocks_m == 1, blocks_m == 0
    n_m, n_v = mosaic.sum(dim=1), visible.sum(dim=1)
    cut = (n_m >= 2) & (n_v >= 2)
    if int(cut.sum()) < 3:
        return torch.zeros(9, dtype=torch.float64)
    by, bm, bv = blocks_y[cut], mosaic[cut], visible[cut]
    value = torch.where(bm, by, 0.0).sum(dim=1) / bm.sum(dim=1)
    clean = torch.where(bv, by, 0.0)
    count = bv.sum(dim=1)
    mean = clean.sum(dim=1) / count
    spread = (torch.where(bv, (by - mean[:, None]) ** 2, 0.0).sum(dim=1) / count).sqrt() + 1.0
    feats = []
    used = []
    for pos in (0, (bh // 2) * bw + bw // 2):
        ok = bv[:, pos]
        used.append(float(ok.float().mean()))
        far = float(((value[ok] - by[ok, pos]).abs() / spread[ok]).median()) if int(ok.sum()) >= 3 else 2.0
        feats.append(math.log(far + 0.02))  # a log: "exactly that pixel" (0) is the telling value
    # One of the clean pixels exactly (a random pixel): the nearest clean pixel to the value.
    nearest = torch.where(bv, (by - value[:, None]).abs(), torch.full_like(by, math.inf)).amin(dim=1)
    feats.append(math.log(float((nearest / spread).median()) + 0.02))
    feats.append(math.log(float(((value - mean).abs() / spread).median()) + 0.02))
    below = (torch.where(bv, (by < value[:, None] - 2.0).double(), 0.0).sum(dim=1) / count).median()
    above = (torch.where(bv, (by > value[:, None] + 2.0).double(), 0.0).sum(dim=1) / count).median()
    feats += [float(below), float(above), *used, min(float(cut.sum()), 64.0) / 64]
    return torch.tensor(feats, dtype=torch.float64)


def _probes(y: torch.Tensor, inside: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Each block value against the clean pixels just beyond the block's four sides, calibrated
    on the clean blocks of the same photo. Per candidate of PROBES and side (top, bottom, left,
    right): log of the median distance between a region block's value and the pixel beyond
    that side nearest where the candidate puts the value (for "mean", the mean of the row or
    column beyond), over the median distance between clean blocks' own candidate values and
    the same pixels. A region made by that recipe scores about 0 on all four sides; a top-left
    mosaic read as a centre one sits too close to what lies above and left, too far from what
    lies below and right. Works where the outline follows the block lines (a pixelated crop)."""
    h, w = y.shape[-2:]
    lay = block_layout(grid, height=h, width=w)
    bh, bw = grid.block_h, grid.block_w
    pad = (lay.left + 1, lay.right + 1, lay.top + 1, lay.bottom + 1)
    yp = torch.nn.functional.pad(y, pad, value=float("nan"))[0, 0]
    clean_px = torch.nn.functional.pad(1 - inside, pad, value=0.0)[0, 0] > 0.5
    yp = torch.where(clean_px, yp, torch.full_like(yp, float("nan")))  # only clean pixels are probes
    share = block_means(inside, grid)[0, 0]
    region = full_blocks(inside, grid)[0, 0]
    clean = share <= 0
    observed = block_means(y, grid)[0, 0]
    r0 = torch.arange(lay.rows) * bh + 1  # first row of each block in the padded image
    c0 = torch.arange(lay.cols) * bw + 1
    feats = []
    for recipe in PROBES:
        own = block_values(y, grid, recipe=recipe)[0, 0]
        for side in ("top", "bottom", "left", "right"):
            if side in ("top", "bottom"):
                row = r0 - 1 if side == "top" else r0 + bh
                line = yp[row][:, None, :].expand(-1, lay.cols, -1)  # (rows, cols, W) the row beyond
                if recipe == "mean":
                    cols = c0[:, None] + torch.arange(bw)[None, :]
                    probe = torch.gather(line, 2, cols[None].expand(lay.rows, -1, -1)).mean(dim=2)
                else:
                    at = c0 + (0 if recipe == "nearest" else bw // 2)
                    probe = torch.gather(line, 2, at[None, :, None].expand(lay.rows, -1, 1))[..., 0]
            else:
                col = c0 - 1 if side == "left" else c0 + bw
                line = yp[:, col].T[None].expand(lay.rows, -1, -1)  # (rows, cols, H) the column beyond
                if recipe == "mean":
                    rows = r0[:, None] + torch.arange(bh)[None, :]
                    probe = torch.gather(line, 2, rows[:, None, :].expand(-1, lay.cols, -1)).mean(dim=2)
                else:
                    at = r0 + (0 if recipe == "nearest" else bh // 2)
                    probe = torch.gather(line, 2, at[:, None, None].expand(-1, lay.cols, 1))[..., 0]
            seen = ~probe.isnan()
            near = (observed - probe)[region & seen].abs()
            calib = (own - probe)[clean & seen].abs()
            if near.numel() < 3 or calib.numel() < 3:
                feats.append(0.0)
                continue
            feats.append(math.log((float(near.median()) + 0.5) / (float(calib.median()) + 0.5)))
    return torch.tensor(feats, dtype=torch.float64)


def _aliasing(y: torch.Tensor, inside: torch.Tensor, grid: Grid) -> torch.Tensor:
    """How rough the region's values are along the lattice: median |second difference| over
    median |first difference| of neighbouring region blocks (a point sample of a photo keeps
    detail a block mean averages away, so its lattice is rougher), and the same ratio of the
    clean blocks' means, which says what this photo gives a mean recipe."""
    region = full_blocks(inside, grid)[0, 0]
    clean = block_means(inside, grid)[0, 0] <= 0
    values = block_means(y, grid)[0, 0]
    out = []
    for where in (region, clean):
        d1, d2 = [], []
        for v, m in ((values, where), (values.T, where.T)):
            ok1 = m[:, 1:] & m[:, :-1]
            d1.append((v[:, 1:] - v[:, :-1])[ok1].abs())
            ok2 = m[:, 2:] & m[:, 1:-1] & m[:, :-2]
            d2.append((v[:, 2:] - 2 * v[:, 1:-1] + v[:, :-2])[ok2].abs())
        first, second = torch.cat(d1), torch.cat(d2)
        if first.numel() < 4 or second.numel() < 4:
            out.append(0.0)
            continue
        out.append(math.log((float(second.median()) + 0.5) / (float(first.median()) + 0.5)))
    return torch.tensor(out, dtype=torch.float64)
