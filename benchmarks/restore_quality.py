"""How well mosaics are undone: PSNR and SSIM inside the region, on held-out photos.

    python benchmarks/restore_quality.py [--data ../shared/data] [--sets Set5 Set14 BSD68]
        [--blocks 8 12 16] [--jpeg 75] [--checkpoint CKPT] [--limit N] [--seed 0]

Every photo of the sets (never used in training: the shipped restorer was trained on
Sun_Hays80, Urban100, T91_partial and coral_test_data) gets one random region (an ellipse, a
rectangle or a polygon of 25-50% of the shorter side, seeded by the file name), mosaicked with
style "average" at each block size on a grid whose offset never matches the image's (offset
drawn in 1..block-1 on both axes). Methods, all blended back through the same mask:
- mosaic: the input as is;
- bicubic: bicubic interpolation of the block means placed at the block centres;
- telea: OpenCV's Telea inpainting of the region (cv2.inpaint, radius 3), which ignores the mosaic;
- bicubic+proj: bicubic, then each block shifted to its observed mean (`ops.unmosaic.classical_restore`);
- restorer: `infer.restore` with the given checkpoint (default: the shipped one), the true grid
  and --flips mirror-image passes (default 4, as `load_restorer`);
- restorer (est. grid): the same with the grid from `localize.mosaic_grid.estimate_grid`, when
  that module exists.
With --jpeg Q, each mosaicked photo is also re-encoded as JPEG at quality Q (4:2:0) before
restoration, and scored against the clean photo (extra rows). PSNR (dB) is over the region's
pixels at 8 bits; SSIM (Gaussian window 11, sigma 1.5, on the region's bounding box) is the
mean of the SSIM map over the region's pixels. Figures are means over photos.
"""

from __future__ import annotations

import argparse
import io
import platform
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mosaicgan.data.images import is_image_name, pil_to_tensor, read_image
from mosaicgan.infer.restore import classical_restorer, load_restorer
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import mask_bbox
from mosaicgan.ops.mosaic import pixelate
from mosaicgan.ops.shapes import draw_shapes, sample_shape
from mosaicgan.ops.unmosaic import block_means, smooth_base

try:  # written alongside (issue 11 part 2); the benchmark runs without it
    from mosaicgan.localize.mosaic_grid import estimate_grid
except ImportError:  # pragma: no cover
    estimate_grid = None


def to_u8(x: torch.Tensor) -> np.ndarray:
    return x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()


def from_u8(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.copy()).permute(2, 0, 1).float().div(127.5).sub(1)


def region_psnr(pred: np.ndarray, truth: np.ndarray, inside: np.ndarray) -> float:
    diff = pred[inside].astype(np.float64) - truth[inside].astype(np.float64)
    return float(10 * np.log10(255.0**2 / max(np.mean(diff**2), 1e-10)))


def region_ssim(pred: np.ndarray, truth: np.ndarray, inside: np.ndarray) -> float:
    """Mean SSIM map (per channel, then averaged) over the region, computed on its bounding box
    plus the window's reach, so that context pixels enter the windows at the region's edge."""
    ys, xs = np.nonzero(inside)
    r = 5
    y0, y1 = max(ys.min() - r, 0), min(ys.max() + r + 1, inside.shape[0])
    x0, x1 = max(xs.min() - r, 0), min(xs.max() + r + 1, inside.shape[1])
    x = torch.from_numpy(pred[y0:y1, x0:x1]).permute(2, 0, 1)[None].double() / 255
    y = torch.from_numpy(truth[y0:y1, x0:x1]).permute(2, 0, 1)[None].double() / 255
    c = x.shape[1]
    coords = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    g = g / g.sum()
    w = (g[:, None] * g[None, :]).expand(c, 1, 11, 11).contiguous()

    def blur(t):
        return F.conv2d(F.pad(t, (5, 5, 5, 5), mode="reflect"), w, groups=c)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    sel = torch.from_numpy(inside[y0:y1, x0:x1])
    return float(s.mean(dim=1)[0][sel].mean())


def jpeg(img: torch.Tensor, quality: int) -> torch.Tensor:
    buf = io.BytesIO()
    Image.fromarray(to_u8(img)).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return from_u8(np.asarray(Image.open(buf).convert("RGB")))


def telea(img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    bgr = cv2.cvtColor(to_u8(img), cv2.COLOR_RGB2BGR)
    out = cv2.inpaint(bgr, (mask[0] > 0).numpy().astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
    return from_u8(cv2.cvtColor(out, cv2.COLOR_BGR2RGB))


def photo_list(root: Path, sets: list[str]) -> list[Path]:
    files = []
    for name in sets:
        folder = root / name
        if not folder.is_dir():
            raise SystemExit(f"{folder}: no such folder (give --data)")
        files += sorted(p for p in folder.iterdir() if p.is_file() and is_image_name(p))
    return files


def default_data() -> Path:
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "shared" / "data", here.parent.parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return Path("../shared/data")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=default_data())
    p.add_argument("--sets", nargs="+", default=["Set5", "Set14", "BSD68"])
    p.add_argument("--blocks", type=int, nargs="+", default=[8, 12, 16])
    p.add_argument("--jpeg", type=int, default=75, help="also score after JPEG re-encoding at this quality (0: no)")
    p.add_argument("--checkpoint", type=Path, default=None, help="restorer checkpoint (default: the shipped one)")
    p.add_argument("--limit", type=int, default=0, help="only the first N photos (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--flips", type=int, default=4, choices=[1, 2, 4], help="restorer passes over mirror images")
    args = p.parse_args()
    torch.set_num_threads(1)

    files = photo_list(args.data, args.sets)
    if args.limit:
        files = files[: args.limit]
    restorer = load_restorer(args.checkpoint, flips=args.flips)
    classical = classical_restorer()
    scores: dict[tuple[str, int, str], list[tuple[float, float]]] = {}
    started = time.perf_counter()
    restore_seconds = 0.0
    for path in files:
        truth = pil_to_tensor(read_image(path))
        h, w = truth.shape[-2:]
        g = torch.Generator().manual_seed(zlib.crc32(path.name.encode()) + args.seed)
        shape = sample_shape(height=h, width=w, generator=g, size_range=(0.25, 0.5))
        mask = draw_shapes(shape, height=h, width=w)
        inside = (mask[0] > 0).numpy()
        truth_u8 = to_u8(truth)
        for block in args.blocks:
            offset = tuple(int(v) for v in torch.randint(1, block, (2,), generator=g))
            grid = Grid(block, block, *offset)
            mosaic = pixelate(truth, mask, block=block, offset=offset)
            variants = [("clean", mosaic)]
            if args.jpeg:
                variants.append((f"JPEG q{args.jpeg}", jpeg(mosaic, args.jpeg)))
            for variant, observed in variants:
                means = block_means(observed[None], grid)
                base = smooth_base(means, grid, height=h, width=w)[0]
                t0 = time.perf_counter()
                restored = restorer.restore(observed, mask, grid=grid)
                restore_seconds += time.perf_counter() - t0
                results = {
                    "mosaic": observed,
                    "bicubic": torch.where(mask > 0, base, observed),
                    "telea": telea(observed, mask),
                    "bicubic+proj": classical.restore(observed, mask, grid=grid),
                    "restorer": restored,
                }
                if estimate_grid is not None:
                    found = estimate_grid(observed, mask)
                    if found is not None:
                        results["restorer (est. grid)"] = restorer.restore(observed, mask, grid=found)
                for method, out in results.items():
                    out_u8 = to_u8(out)
                    key = (variant, block, method)
                    scores.setdefault(key, []).append((region_psnr(out_u8, truth_u8, inside),
                                                       region_ssim(out_u8, truth_u8, inside)))
    seconds = time.perf_counter() - started

    methods = list(dict.fromkeys(k[2] for k in scores))
    variants = list(dict.fromkeys(k[0] for k in scores))
    print(f"{len(files)} photos ({', '.join(args.sets)}); restorer: {restorer.name} ({restorer.kind}, flips {restorer.flips}); "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread; "
          f"{seconds:.0f} s in all, restorer {restore_seconds:.1f} s")
    print()
    header = "| input | method | " + " | ".join(f"block {b}: PSNR / SSIM" for b in args.blocks) + " |"
    print(header)
    print("|" + "---|" * (2 + len(args.blocks)))
    for variant in variants:
        for method in methods:
            cells = []
            for b in args.blocks:
                vals = scores.get((variant, b, method))
                if not vals:
                    cells.append("n/a")
                    continue
                arr = np.array(vals)
                cells.append(f"{arr[:, 0].mean():.2f} / {arr[:, 1].mean():.4f}")
            print(f"| {variant} | {method} | " + " | ".join(cells) + " |")
    if "restorer" in methods:
        print()
        for variant in variants:
            for b in args.blocks:
                r = np.array(scores[(variant, b, "restorer")])
                best_other = max(("mosaic", "bicubic", "telea"), key=lambda m: np.mean(scores[(variant, b, m)], axis=0)[0])
                o = np.array(scores[(variant, b, best_other)])
                wins = int((r[:, 0] > o[:, 0]).sum())
                print(f"{variant}, block {b}: restorer - {best_other} = {r[:, 0].mean() - o[:, 0].mean():+.2f} dB, "
                      f"{r[:, 1].mean() - o[:, 1].mean():+.4f} SSIM; higher PSNR on {wins}/{len(r)} photos")


if __name__ == "__main__":
    main()
