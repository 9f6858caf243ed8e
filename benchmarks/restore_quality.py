"""How well mosaics are undone: PSNR and SSIM inside the region, on held-out photos.

    python benchmarks/restore_quality.py [--data ../shared/data] [--sets Set5 Set14 BSD68]
        [--blocks 8 12 16] [--jpeg 75] [--checkpoint CKPT] [--limit N] [--seed 0]
        [--grid true|estimated|both] [--cli N]

Every photo of the sets (never used in training: the shipped restorer was trained on
Sun_Hays80, Urban100 and coral_test_data) gets one random region (an ellipse, a
rectangle or a polygon of 25-50% of the shorter side, seeded by the file name), mosaicked with
style "average" at each block size on a grid whose offset never matches the image's (offset
drawn in 1..block-1 on both axes). Methods, all blended back through the same mask:
- mosaic: the input as is;
- bicubic: bicubic interpolation of the block means placed at the block centres;
- telea: OpenCV's Telea inpainting of the region (cv2.inpaint, radius 3), which ignores the mosaic;
- bicubic+proj: bicubic, then each block shifted to its observed mean (`ops.unmosaic.classical_restore`);
- restorer: `infer.restore` with the given checkpoint (default: the shipped one), the true grid
  and --flips mirror-image passes (default 4, as `load_restorer`);
- remove --mask: what `mosaicgan remove --mask` does (`infer.remove_core.remove_mosaics` with
  the mask and the shipped defaults: grid read by `localize.mosaic_grid.estimate_grid` inside
  the mask, no grow, no feather); where no grid is read the region is left as it is, as
  `remove` does, and scored so. Grid reads are tallied (exact, wrong, none).
--grid picks the restorer rows: true, estimated (remove --mask), or both (default).
With --cli N, the first N photos are also written to a temporary folder (mosaicked PNG, and
JPEG q75 with --jpeg) with one mask per photo, `mosaicgan remove DIR --mask MASKS --out OUT` is
run once, and its files are scored against the in-process figures for the same photos (a JPEG
output is re-encoded at the input's estimated quality, which the in-process path skips).
The mosaicked photo is rounded to 8 bits, as a saved file is. With --jpeg Q, each mosaicked
photo is also re-encoded as JPEG at quality Q (4:2:0) before restoration, and scored against
the clean photo (extra rows). PSNR (dB) is over the region's
pixels at 8 bits; SSIM (Gaussian window 11, sigma 1.5, on the region's bounding box) is the
mean of the SSIM map over the region's pixels. Figures are means over photos.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mosaicgan.data.images import is_image_name, pil_to_tensor, read_image
from mosaicgan.infer.remove.core import remove_mosaics
from mosaicgan.infer.remove.restorer import classical_restorer, load_restorer
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.mosaic import pixelate
from mosaicgan.ops.shapes import draw_shapes, sample_shape
from mosaicgan.ops.unmosaic import block_means, smooth_base


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


GRID_ROWS = {"true": ("restorer",), "estimated": ("remove --mask",), "both": ("restorer", "remove --mask")}


def grid_read(found, truth: Grid) -> str:
    if found is None:
        return "none"
    return "exact" if found == truth else f"wrong ({found.block_h}x{found.block_w})"


def write_u8(a: np.ndarray, path: Path, *, quality: int = 0) -> None:
    if quality:
        Image.fromarray(a).save(path, format="JPEG", quality=quality)
    else:
        Image.fromarray(a).save(path)


def run_cli(cases: list[dict], *, checkpoint: Path | None) -> float:
    """Write every case's mosaicked image and mask, run `mosaicgan remove` once over the folder,
    and put its output (uint8 RGB) into case["cli"]. Returns the command's seconds."""
    with tempfile.TemporaryDirectory(prefix="restore_quality_cli_") as tmp:
        src, masks, out = Path(tmp) / "in", Path(tmp) / "masks", Path(tmp) / "out"
        src.mkdir()
        masks.mkdir()
        for case in cases:
            write_u8(case["observed_u8"], src / case["name"], quality=case["quality"])
            write_u8(case["mask_u8"], masks / (Path(case["name"]).stem + ".png"))
        exe = Path(sys.executable).with_name("mosaicgan")
        cmd = [str(exe) if exe.exists() else "mosaicgan", "remove", str(src), "--mask", str(masks),
               "--out", str(out), "--quiet"]
        if checkpoint is not None:
            cmd += ["--checkpoint", str(checkpoint)]
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if done.returncode not in (0, 3):
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
        print("$ mosaicgan remove IN --mask MASKS --out OUT   (exit status " f"{done.returncode}, {seconds:.0f} s)")
        for case in cases:
            written = out / case["name"]
            # Exit status 3 / a missing file: `remove` read no grid and wrote nothing, i.e. the
            # region stays mosaicked.
            case["cli"] = (np.asarray(Image.open(written).convert("RGB")) if written.exists()
                           else case["observed_u8"])
    return seconds


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
    p.add_argument("--grid", choices=sorted(GRID_ROWS), default="both",
                   help="restorer rows: the true grid, the grid `remove --mask` estimates, or both")
    p.add_argument("--scores", type=Path, default=None, metavar="FILE",
                   help="append every photo's figures to FILE as JSON lines as they come (for long runs)")
    p.add_argument("--cli", type=int, default=0, metavar="N",
                   help="also run the `mosaicgan remove` command on the first N photos and compare")
    args = p.parse_args()
    torch.set_num_threads(1)

    files = photo_list(args.data, args.sets)
    if args.limit:
        files = files[: args.limit]
    restorer = load_restorer(args.checkpoint, flips=args.flips)
    classical = classical_restorer()
    scores: dict[tuple[str, int, str], list[tuple[float, float]]] = {}
    reads: dict[tuple[str, int], dict[str, int]] = {}
    cases: list[dict] = []
    started = time.perf_counter()
    restore_seconds = 0.0
    for index, path in enumerate(files):
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
            # Saved at 8 bits, as any photo `remove` reads: block means are not whole levels.
            mosaic = from_u8(to_u8(pixelate(truth, mask, block=block, offset=offset)))
            variants = [("clean", mosaic, 0)]
            if args.jpeg:
                variants.append((f"JPEG q{args.jpeg}", jpeg(mosaic, args.jpeg), args.jpeg))
            for variant, observed, quality in variants:
                means = block_means(observed[None], grid)
                base = smooth_base(means, grid, height=h, width=w)[0]
                results = {
                    "mosaic": observed,
                    "bicubic": torch.where(mask > 0, base, observed),
                    "telea": telea(observed, mask),
                    "bicubic+proj": classical.restore(observed, mask, grid=grid),
                }
                kind = None
                t0 = time.perf_counter()
                if "restorer" in GRID_ROWS[args.grid]:
                    results["restorer"] = restorer.restore(observed, mask, grid=grid)
                if "remove --mask" in GRID_ROWS[args.grid]:
                    removed = remove_mosaics(observed, restorer=restorer, mask=mask[0])
                    results["remove --mask"] = removed.frame
                    found = removed.regions[0].grid if len(removed.regions) == 1 else None
                    tally = reads.setdefault((variant, block), {})
                    kind = grid_read(found, grid) if len(removed.regions) == 1 else f"{len(removed.regions)} regions"
                    tally[kind] = tally.get(kind, 0) + 1
                restore_seconds += time.perf_counter() - t0
                for method, out in results.items():
                    out_u8 = to_u8(out)
                    key = (variant, block, method)
                    scores.setdefault(key, []).append((region_psnr(out_u8, truth_u8, inside),
                                                       region_ssim(out_u8, truth_u8, inside)))
                    if args.scores is not None:
                        with args.scores.open("a") as f:
                            f.write(json.dumps({"photo": path.name, "variant": variant, "block": block,
                                                "method": method, "psnr": scores[key][-1][0],
                                                "ssim": scores[key][-1][1],
                                                "grid": kind if method == "remove --mask" else None}) + "\n")
                if index < args.cli and "remove --mask" in results:
                    ext = ".jpg" if quality else ".png"
                    cases.append({"name": f"{path.stem}_b{block}{ext}", "variant": variant, "block": block,
                                  "quality": quality, "observed_u8": to_u8(observed),
                                  "mask_u8": (inside * 255).astype(np.uint8), "truth_u8": truth_u8,
                                  "inside": inside, "inproc": to_u8(results["remove --mask"])})
    seconds = time.perf_counter() - started

    methods = list(dict.fromkeys(k[2] for k in scores))
    variants = list(dict.fromkeys(k[0] for k in scores))
    print(f"{len(files)} photos ({', '.join(args.sets)}); "
          f"restorer: {restorer.name} ({restorer.kind}, flips {restorer.flips}); "
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
    print()
    for method in ("restorer", "remove --mask"):
        if method not in methods:
            continue
        for variant in variants:
            for b in args.blocks:
                r = np.array(scores[(variant, b, method)])
                best_other = max(("mosaic", "bicubic", "telea"),
                                 key=lambda m: np.mean(scores[(variant, b, m)], axis=0)[0])
                o = np.array(scores[(variant, b, best_other)])
                wins = int((r[:, 0] > o[:, 0]).sum())
                print(f"{variant}, block {b}: {method} - {best_other} (true grid) = "
                      f"{r[:, 0].mean() - o[:, 0].mean():+.2f} dB, "
                      f"{r[:, 1].mean() - o[:, 1].mean():+.4f} SSIM; higher PSNR on {wins}/{len(r)} photos")
    if reads:
        print()
        for (variant, b), tally in reads.items():
            print(f"grid read by remove --mask, {variant}, block {b}: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(tally.items(), key=lambda kv: -kv[1])))
    if cases:
        print()
        cli_seconds = run_cli(cases, checkpoint=args.checkpoint)
        for variant in variants:
            for b in args.blocks:
                sel = [c for c in cases if c["variant"] == variant and c["block"] == b]
                if not sel:
                    continue
                inproc = np.mean([region_psnr(c["inproc"], c["truth_u8"], c["inside"]) for c in sel])
                cli = np.mean([region_psnr(c["cli"], c["truth_u8"], c["inside"]) for c in sel])
                same = sum(bool(np.array_equal(c["cli"][c["inside"]], c["inproc"][c["inside"]])) for c in sel)
                print(f"CLI check, {variant}, block {b}, {len(sel)} photos: in-process {inproc:.2f} dB, "
                      f"`mosaicgan remove` {cli:.2f} dB; region identical on {same}/{len(sel)}")
        print(f"(the CLI run took {cli_seconds:.0f} s for {len(cases)} files)")


if __name__ == "__main__":
    main()
