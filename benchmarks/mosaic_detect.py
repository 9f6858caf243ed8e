"""How well the mosaic detectors find mosaics, and how often they touch clean photos.

Detectors (--detector, default both): "net", the shipped network with the grid read inside
each region it proposes (`localize.mosaics.detector`), and "grid", the classical block-grid detector
(`localize.mosaics.find_mosaics`).

Held-out pairs: each photo of the dev split (Set5, Set14, BSD68; none is used to set anything
in training) gets a region (1-2 random shapes, as make-pairs draws them) mosaicked by
`ops.mosaic.pixelate` with a block size drawn from 4..40 (a quarter of them rectangular,
aspect 1:2..2:1) at a random grid offset. The region is at least 4 blocks across, as a
mosaic meant to hide something is. Each is saved as PNG and as JPEG at quality 75 (Pillow's
default 4:2:0 colour), read back, and searched with no mask. Reported per encoding:
- IoU of the found mask with the true region (an image where nothing is found scores 0);
- grid: the found region that overlaps the truth most has exactly the true block size and
  offset;
- grid given the mask: `estimate_grid(image, true mask)` (what `remove --mask` uses) is exact.
Clean photos: every image file under the data folder, searched as it is; "touched" = anything
found. The 16 files the data README calls not photos (checkerboards, label masks, a 4x6 test
pattern, an MNIST digit, Set14's slide screenshot and drawing) are counted apart.

    PYTHONPATH=src .venv/bin/python benchmarks/mosaic_detect.py --data ../shared/data
        [--pairs 2] [--every N] [--json out.json]

--sets Sun_Hays80,Urban100 makes the pairs from train photos instead (where the net's thresholds
are set); --clean-sets limits the clean photos to some folders.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mosaicgan.data.images import pil_to_tensor, read_image
from mosaicgan.localize.mosaics.detector import load_mosaic_detector
from mosaicgan.localize.mosaics.finder import find_mosaics
from mosaicgan.localize.mosaics.grid import estimate_grid
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.mosaic import pixelate
from mosaicgan.ops.shapes import draw_shapes, sample_shape

HELD_OUT = ("Set5", "Set14", "BSD68")
NOT_PHOTOS = ("checker", "rgb6X4", "mnist_nine", "segmentation_mask", "posenet/mask", "ppt3", "comic")


def make_pair(photo: torch.Tensor, *, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, Grid]:
    """(mosaicked image, region mask (1, H, W), grid) for one photo."""
    _, h, w = photo.shape

    def uniform(a: float, b: float) -> float:
        return a + (b - a) * float(torch.rand((), generator=generator))

    block = int(torch.randint(4, 41, (), generator=generator))
    if float(torch.rand((), generator=generator)) < 0.25:
        aspect = math.exp(uniform(-math.log(2), math.log(2)))
        bh, bw = max(4, round(block / math.sqrt(aspect))), max(4, round(block * math.sqrt(aspect)))
    else:
        bh = bw = block
    grid = Grid(bh, bw, int(torch.randint(0, bh, (), generator=generator)),
                int(torch.randint(0, bw, (), generator=generator)))
    short = min(h, w)
    low = min(0.9, max(0.2, 4 * max(bh, bw) / short))
    count = int(torch.randint(1, 3, (), generator=generator))
    shapes = [sample_shape(height=h, width=w, generator=generator, size_range=(low, max(low, 0.6)))
              for _ in range(count)]
    mask = draw_shapes(shapes, height=h, width=w)
    return pixelate(photo, mask, block=grid.block, offset=grid.offset), mask, grid


def encode(image: torch.Tensor, fmt: str) -> torch.Tensor:
    """Round-trip through a PNG or a JPEG q75 file in memory, as a saved mosaic would be read."""
    arr = ((image.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    pil = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    buf = io.BytesIO()
    pil.save(buf, format="PNG" if fmt == "png" else "JPEG", **({} if fmt == "png" else {"quality": 75}))
    buf.seek(0)
    with Image.open(buf) as img:
        return pil_to_tensor(img.convert(pil.mode))


def iou(found: torch.Tensor, truth: torch.Tensor) -> float:
    a, b = found > 0.5, truth > 0.5
    union = (a | b).sum().item()
    return (a & b).sum().item() / union if union else 1.0


def held_out(data: Path, *, finders: dict, pairs: int, seed: int, every: int = 1,
             sets: tuple[str, ...] = HELD_OUT) -> dict:
    photos = sorted(p for d in sets for p in (data / d).iterdir() if p.suffix.lower() in (".png", ".jpg", ".bmp"))
    # --every keeps each photo's own pairs (the seed depends on its index in the full list).
    photos = [(i, p) for i, p in enumerate(photos) if i % every == 0]
    results = {f"{name}/{fmt}": [] for name in finders for fmt in ("png", "jpeg")}
    for n, (i, path) in enumerate(photos):
        photo = pil_to_tensor(read_image(path, mode="RGB"))
        for k in range(pairs):
            generator = torch.Generator().manual_seed(seed * 100003 + i * 101 + k)
            image, mask, grid = make_pair(photo, generator=generator)
            for fmt in ("png", "jpeg"):
                seen = encode(image, fmt)
                given = estimate_grid(seen, mask)
                for name, find in finders.items():
                    start = time.perf_counter()
                    found_mask, regions = find(seen)
                    seconds = time.perf_counter() - start
                    best = max(regions, key=lambda r: (r.mask & (mask[0] > 0.5)).sum().item(), default=None)
                    results[f"{name}/{fmt}"].append({
                        "photo": f"{path.parent.name}/{path.name}", "pair": k, "grid": grid.to_dict(),
                        "iou": iou(found_mask, mask), "grid_ok": best is not None and best.grid == grid,
                        "found_grid": None if best is None else best.grid.to_dict(),
                        "given_ok": given == grid, "regions": len(regions), "seconds": seconds})
        print(f"\rheld-out {n + 1}/{len(photos)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return results


def clean(data: Path, *, finders: dict, every: int = 1, sets: tuple[str, ...] = ()) -> list[dict]:
    files = sorted(p for p in data.rglob("*") if p.is_file() and p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    if sets:
        files = [p for p in files if p.relative_to(data).parts[0] in sets]
    files = files[::every]
    rows = []
    for i, path in enumerate(files):
        image = pil_to_tensor(read_image(path, mode="RGB"))
        rel = str(path.relative_to(data))
        for name, find in finders.items():
            start = time.perf_counter()
            mask, regions = find(image)
            rows.append({"detector": name, "file": rel, "photo": not any(s in rel for s in NOT_PHOTOS),
                         "touched": bool(regions), "pixels": int(mask.sum().item()),
                         "seconds": time.perf_counter() - start, "size": list(image.shape[1:])})
        print(f"\rclean {i + 1}/{len(files)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


def summary(results: dict, rows: list[dict]) -> dict:
    out = {}
    for key, recs in results.items():
        if recs:
            out[key] = {"pairs": len(recs), "mean_iou": float(np.mean([r["iou"] for r in recs])),
                        "median_iou": float(np.median([r["iou"] for r in recs])),
                        "iou_below_0.5": int(sum(r["iou"] < 0.5 for r in recs)),
                        "nothing_found": int(sum(r["regions"] == 0 for r in recs)),
                        "grid_exact": float(np.mean([r["grid_ok"] for r in recs])),
                        "grid_given_mask_exact": float(np.mean([r["given_ok"] for r in recs])),
                        "seconds_per_image": float(np.mean([r["seconds"] for r in recs]))}
    for detector in dict.fromkeys(r["detector"] for r in rows):
        for name, keep in (("clean_photos", True), ("clean_not_photos", False)):
            sel = [r for r in rows if r["photo"] == keep and r["detector"] == detector]
            if sel:
                out[f"{detector}/{name}"] = {
                    "files": len(sel), "touched": int(sum(r["touched"] for r in sel)),
                    "touched_share": float(np.mean([r["touched"] for r in sel])),
                    "touched_files": [r["file"] for r in sel if r["touched"]],
                    "seconds_per_image": float(np.mean([r["seconds"] for r in sel]))}
    return out


def finders(names: list[str], *, checkpoint: Path | None, threshold: float | None, seed: float | None) -> dict:
    out = {}
    for name in names:
        if name == "grid":
            out[name] = find_mosaics
        else:
            options = {k: v for k, v in (("threshold", threshold), ("seed", seed)) if v is not None}
            out[name] = load_mosaic_detector(checkpoint, **options).find
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--pairs", type=int, default=2, help="mosaicked pairs per held-out photo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=int, default=1, help="quick runs: every Nth held-out photo and clean file")
    p.add_argument("--skip-clean", action="store_true")
    p.add_argument("--skip-pairs", action="store_true")
    p.add_argument("--json", type=Path, help="also write every record and the summary here")
    p.add_argument("--detector", choices=("both", "net", "grid"), default="both")
    p.add_argument("--checkpoint", type=Path, help="the net's checkpoint or run folder (default: the shipped one)")
    p.add_argument("--threshold", type=float, help="the net's region threshold (default: the shipped setting)")
    p.add_argument("--seed-threshold", type=float, help="the net's seed threshold (default: the shipped setting)")
    p.add_argument("--sets", default=",".join(HELD_OUT), help="folders the pairs are made from (comma-separated)")
    p.add_argument("--clean-sets", default="", help="only these folders' clean photos (default: all)")
    args = p.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    found = finders(["net", "grid"] if args.detector == "both" else [args.detector], checkpoint=args.checkpoint,
                    threshold=args.threshold, seed=args.seed_threshold)
    sets = tuple(s for s in args.sets.split(",") if s)
    results = {} if args.skip_pairs else held_out(args.data, finders=found, pairs=args.pairs, seed=args.seed,
                                                  every=args.every, sets=sets)
    clean_sets = tuple(s for s in args.clean_sets.split(",") if s)
    rows = [] if args.skip_clean else clean(args.data, finders=found, every=args.every, sets=clean_sets)
    out = summary(results, rows)
    out["wall_seconds"] = time.perf_counter() - start
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": out, "pairs": results, "clean": rows}, indent=1))


if __name__ == "__main__":
    main()
