"""How well `remove` undoes the mosaics people actually meet: every recipe of `ops.recipes`.

    python benchmarks/restore_wild.py [--data ../shared/data] [--sets Set5 Set14 BSD68]
        [--recipes mean,nearest,...] [--blocks 6 16] [--jpeg 75] [--every N] [--limit N]
        [--checkpoint CKPT] [--detector-checkpoint CKPT] [--scores FILE] [--json FILE]

Every photo of the dev sets (never trained on) gets, for every recipe, one region mosaicked by
that recipe (`ops.recipes.mosaic_recipe`) at a block size drawn from --blocks (both ends
included) at a grid offset drawn at random: half of the photos (by a seeded coin per photo and
recipe) a random shape of 25-50% of the shorter side (the grid over the whole photo, so the
outline cuts blocks, as an editor's selection does), the others a rectangle of that size on
the grid (a pixelated crop, as a script that resizes a box down and up makes). Each is scored
saved as PNG and, with --jpeg Q, re-encoded as JPEG at quality Q (4:2:0). Methods, scored
inside the true region (PSNR in dB at 8 bits; SSIM as in benchmarks/restore_quality.py):
- as is: the mosaic;
- bicubic: bicubic interpolation of the block values (the true grid) placed at their true
  sample positions (`ops.unmosaic.placed_base` at `ops.recipes.measurement`'s centroid:
  the top-left pixel for `nearest`, the block centre for the others);
- telea: OpenCV's Telea inpainting of the true region (radius 3), which ignores the mosaic;
- remove --mask: `infer.remove.core.remove_mosaics` with the true region as mask (grid read
  inside it, recipe read by the restorer's head if it has one);
- remove: the same with no mask: the shipped detector (or --detector-checkpoint) finds the
  mosaics, as `mosaicgan remove` does. Regions it finds elsewhere are counted apart (pixels
  changed outside the true region), and so is its IoU with the true region (0 if nothing found).
Per recipe: means over photos, and for `remove` the worst photo against the mosaic as is and
how many photos lose more than 0.2 dB. --scores appends every case as a JSON line as it comes
and, run again with the same file, skips the cases already there (a long run can be stopped
and continued). The recipe the restorer read is tallied per recipe.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import torch

from mosaicgan.choices import MOSAIC_RECIPES
from mosaicgan.data.images import pil_to_tensor, read_image
from mosaicgan.infer.remove.core import remove_mosaics
from mosaicgan.infer.remove.restorer import load_restorer
from mosaicgan.localize.mosaics.detector import load_mosaic_detector
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.recipes import measurement, mosaic_recipe
from mosaicgan.ops.shapes import draw_shapes, sample_shape
from mosaicgan.ops.unmosaic import block_means, placed_base
from restore_quality import default_data, from_u8, jpeg, photo_list, region_psnr, region_ssim, telea, to_u8

METHODS = ("as is", "bicubic", "telea", "remove --mask", "remove")


def make_case(truth: torch.Tensor, *, recipe: str, blocks: tuple[int, int], seed: int):
    """(mosaicked photo, region mask (1, H, W), grid, kind) for one photo and recipe."""
    g = torch.Generator().manual_seed(seed)
    h, w = truth.shape[-2:]
    block = int(torch.randint(blocks[0], blocks[1] + 1, (), generator=g))
    grid = Grid(block, block, *(int(v) for v in torch.randint(0, block, (2,), generator=g)))
    if float(torch.rand((), generator=g)) < 0.5:
        kind = "shape"
        mask = draw_shapes(sample_shape(height=h, width=w, generator=g, size_range=(0.25, 0.5)), height=h, width=w)
    else:
        kind = "box"
        short = min(h, w)
        sides = [max(3, int(short * (0.25 + 0.25 * float(torch.rand((), generator=g)))) // block) for _ in range(2)]
        rows, cols = min(sides[0], (h - grid.offset_y) // block), min(sides[1], (w - grid.offset_x) // block)
        top = grid.offset_y + block * _draw(max((h - grid.offset_y) // block - rows, 0), g)
        left = grid.offset_x + block * _draw(max((w - grid.offset_x) // block - cols, 0), g)
        mask = torch.zeros(1, h, w)
        mask[:, top : top + rows * block, left : left + cols * block] = 1
    mosaic = mosaic_recipe(truth, mask, recipe=recipe, grid=grid, generator=g)
    return from_u8(to_u8(mosaic)), mask, grid, kind


def _draw(high: int, generator: torch.Generator) -> int:
    return int(torch.randint(0, high + 1, (), generator=generator))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=default_data())
    p.add_argument("--sets", nargs="+", default=["Set5", "Set14", "BSD68"])
    p.add_argument("--recipes", default=",".join(MOSAIC_RECIPES))
    p.add_argument("--blocks", type=int, nargs=2, default=[6, 16], metavar=("LOW", "HIGH"))
    p.add_argument("--jpeg", type=int, default=75, help="also score after JPEG re-encoding at this quality (0: no)")
    p.add_argument("--checkpoint", type=Path, default=None, help="restorer (default: the shipped one)")
    p.add_argument("--detector-checkpoint", type=Path, default=None,
                   help="mosaic detector (default: the shipped one)")
    p.add_argument("--every", type=int, default=1, help="only every N-th photo")
    p.add_argument("--limit", type=int, default=0, help="only the first N photos (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scores", type=Path, default=None,
                   help="JSON lines, one per case; cases already there are skipped")
    p.add_argument("--json", type=Path, default=None, help="write the summary here")
    args = p.parse_args()
    torch.set_num_threads(1)
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    bad = [r for r in recipes if r not in MOSAIC_RECIPES]
    if bad:
        raise SystemExit(f"unknown recipe(s) {bad}; choose from {MOSAIC_RECIPES}")

    files = photo_list(args.data, args.sets)[:: args.every]
    if args.limit:
        files = files[: args.limit]
    restorer = load_restorer(args.checkpoint)
    detector = load_mosaic_detector(args.detector_checkpoint)
    done: dict[tuple, dict] = {}
    if args.scores is not None and args.scores.exists():
        for line in args.scores.read_text().splitlines():
            row = json.loads(line)
            done[(row["photo"], row["recipe"], row["variant"])] = row
    variants = [("PNG", 0)] + ([(f"JPEG q{args.jpeg}", args.jpeg)] if args.jpeg else [])
    started = time.perf_counter()
    for path in files:
        truth = pil_to_tensor(read_image(path, mode="RGB"))
        truth_u8 = to_u8(truth)
        for recipe in recipes:
            if all((path.name, recipe, v) in done for v, _ in variants):
                continue
            seed = zlib.crc32(f"{path.name}/{recipe}".encode()) + args.seed
            mosaic, mask, grid, kind = make_case(truth, recipe=recipe, blocks=tuple(args.blocks), seed=seed)
            inside = (mask[0] > 0).numpy()
            meas = measurement(recipe, block_h=grid.block_h, block_w=grid.block_w)
            for variant, quality in variants:
                if (path.name, recipe, variant) in done:
                    continue
                observed = jpeg(mosaic, quality) if quality else mosaic
                h, w = observed.shape[-2:]
                values = block_means(observed[None], grid)
                base = placed_base(values, grid, height=h, width=w, centroid=meas.centroid)[0]
                with_mask = remove_mosaics(observed, restorer=restorer, mask=mask[0])
                found = remove_mosaics(observed, restorer=restorer, detect=detector.find)
                outputs = {"as is": observed, "bicubic": torch.where(mask > 0, base, observed),
                           "telea": telea(observed, mask), "remove --mask": with_mask.frame, "remove": found.frame}
                row = {"photo": path.name, "recipe": recipe, "variant": variant, "block": grid.block_h, "kind": kind}
                for method, out in outputs.items():
                    out_u8 = to_u8(out)
                    row[method] = [region_psnr(out_u8, truth_u8, inside), region_ssim(out_u8, truth_u8, inside)]
                changed = found.mask.numpy() > 0
                union = (changed | inside).sum()
                row["iou"] = float((changed & inside).sum() / union) if union else 0.0
                row["outside"] = float((changed & ~inside).sum() / inside.size)
                row["regions"] = len(found.restored)
                best = max(found.restored, key=lambda r: _overlap(r.box, inside), default=None)
                row["read"] = None if best is None or best.recipe is None else best.recipe.family
                row["read_mask"] = (None if not with_mask.restored or with_mask.restored[0].recipe is None
                                    else with_mask.restored[0].recipe.family)
                row["grid_exact"] = best is not None and best.grid == grid
                done[(path.name, recipe, variant)] = row
                if args.scores is not None:
                    with args.scores.open("a") as f:
                        f.write(json.dumps(row) + "\n")
        print(f"{path.name} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    rows = [r for r in done.values() if r["photo"] in {f.name for f in files} and r["recipe"] in recipes]
    summary = summarise(rows, recipes, [v for v, _ in variants])
    print(f"{len(files)} photos ({', '.join(args.sets)}, every {args.every}); restorer: {restorer.name}; "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread; "
          f"{time.perf_counter() - started:.0f} s")
    print_tables(summary, recipes, [v for v, _ in variants])
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")


def _overlap(box: tuple[int, int, int, int], inside: np.ndarray) -> int:
    x0, y0, x1, y1 = box
    return int(inside[y0:y1, x0:x1].sum())


def summarise(rows: list[dict], recipes: list[str], variants: list[str]) -> dict:
    out: dict = {}
    for recipe in recipes:
        for variant in variants + ["both"]:
            sel = [r for r in rows if r["recipe"] == recipe and (variant == "both" or r["variant"] == variant)]
            if not sel:
                continue
            cell = {"cases": len(sel)}
            for method in METHODS:
                arr = np.array([r[method] for r in sel])
                cell[method] = [float(arr[:, 0].mean()), float(arr[:, 1].mean())]
            gain = np.array([r["remove"][0] - r["as is"][0] for r in sel])
            cell["remove - as is"] = float(gain.mean())
            cell["worst photo"] = float(gain.min())
            cell["photos below -0.2 dB"] = int((gain < -0.2).sum())
            cell["remove - bicubic"] = float(np.mean([r["remove"][0] - r["bicubic"][0] for r in sel]))
            cell["iou"] = float(np.mean([r["iou"] for r in sel]))
            cell["grid exact"] = float(np.mean([r["grid_exact"] for r in sel]))
            cell["outside"] = float(np.mean([r["outside"] for r in sel]))
            cell["read"] = _tally(r["read"] for r in sel)
            cell["read (mask)"] = _tally(r["read_mask"] for r in sel)
            out[f"{recipe} | {variant}"] = cell
    return out


def _tally(values) -> dict:
    tally: dict = {}
    for v in values:
        tally[str(v)] = tally.get(str(v), 0) + 1
    return dict(sorted(tally.items(), key=lambda kv: -kv[1]))


def print_tables(summary: dict, recipes: list[str], variants: list[str]) -> None:
    print()
    print("| recipe | input | cases | as is | bicubic (true positions) | Telea | remove --mask | **remove** | "
          "remove - as is | worst photo | photos < -0.2 dB | remove - bicubic | finder IoU | grid exact |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for recipe in recipes:
        for variant in variants + ["both"]:
            c = summary.get(f"{recipe} | {variant}")
            if c is None:
                continue
            cells = " | ".join(f"{c[m][0]:.2f} / {c[m][1]:.3f}" for m in METHODS)
            print(f"| {recipe} | {variant} | {c['cases']} | {cells} | {c['remove - as is']:+.2f} "
                  f"| {c['worst photo']:+.2f} | {c['photos below -0.2 dB']} | {c['remove - bicubic']:+.2f} "
                  f"| {c['iou']:.3f} | {c['grid exact']:.0%} |")
    print()
    print("| recipe | input | recipe read without a mask | with the true mask | pixels changed outside the region |")
    print("|---|---|---|---|---:|")
    for recipe in recipes:
        for variant in variants:
            c = summary.get(f"{recipe} | {variant}")
            if c is None:
                continue
            read = ", ".join(f"{k} {v}" for k, v in c["read"].items())
            read_mask = ", ".join(f"{k} {v}" for k, v in c["read (mask)"].items())
            print(f"| {recipe} | {variant} | {read} | {read_mask} | {c['outside']:.2%} |")


if __name__ == "__main__":
    main()
