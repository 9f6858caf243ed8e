"""Super-resolution quality: bicubic, SRResNet and SRGAN (ours) on Set5, Set14 and BSD68, beside
the published figures of Ledig et al. (2017) and SRCNN.

    python benchmarks/sr_quality.py [--data ../shared/data] [--sets Set5 Set14 BSD68]
        [--srresnet CKPT] [--srgan CKPT] [--json FILE] [--figure docs/sr_crops.png]

Each high-resolution image is cropped to a multiple of the scale, downscaled with
`ops.sr.downscale` (bicubic with antialiasing, MATLAB's kernel, 8-bit), upscaled, and scored on
the Y channel (BT.601) with `scale` border pixels cropped (`infer.upscale.evaluate`, the same code as
`mosaicgan eval`). --srresnet defaults to the shipped x4 model; SRGAN rows appear with --srgan.
Our models never saw these sets: they were trained on Urban100, Sun_Hays80 and the
photos of coral_test_data. Note the sets here differ a little from the papers': Set14 lacks
lenna.png (13 of 14 images) and BSD68 is 68 of BSD100's 100 images.
--figure writes crops side by side (bicubic | SRResNet | SRGAN | original), enlarged 2x with
nearest neighbour so pixels stay visible.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from mosaicgan.data.images import pil_to_tensor, read_image, tensor_to_pil
from mosaicgan.infer.upscale.evaluate import evaluate_sr
from mosaicgan.infer.upscale.upscaler import Upscaler
from mosaicgan.ops.sr import crop_to_multiple, downscale, upscale_bicubic

# x4, Y channel, as given in issue 13 (Ledig et al. 2017, Table 2; SRCNN's Set5 PSNR); absent: not given.
PUBLISHED = {
    "bicubic (paper)": {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027)},
    "SRCNN (paper)": {"Set5": (30.48, None)},
    "SRResNet (paper)": {"Set5": (32.05, 0.9019), "Set14": (28.49, 0.8184)},
    "SRGAN (paper)": {"Set5": (29.40, 0.8472), "Set14": (26.02, 0.7397)},
}
# (set, image, top, left, side) of the HR crops in --figure.
CROPS = [("Set14", "baboon.png", 60, 300, 96), ("BSD68", "253027.png", 120, 180, 96),
         ("Set5", "butterfly.png", 80, 80, 96)]


def figure(models: dict[str, Upscaler], *, data: Path, path: Path) -> None:
    tiles, labels = [], ["bicubic", *models, "original"]
    for set_name, image, top, left, side in CROPS:
        file = data / set_name / image
        if not file.is_file():
            continue
        scale = next(iter(models.values())).scale
        hr = crop_to_multiple(pil_to_tensor(read_image(file, mode="RGB"))[None], scale)
        small = downscale(hr, scale)
        outs = [upscale_bicubic(small, scale)[0], *(m(small[0]) for m in models.values()), hr[0]]
        row = [tensor_to_pil(o[:, top : top + side, left : left + side]).resize((2 * side, 2 * side), Image.NEAREST)
               for o in outs]
        tiles.append(row)
    if not tiles:
        return
    w = h = tiles[0][0].size[0]
    sheet = Image.new("RGB", (len(labels) * (w + 4), 18 + len(tiles) * (h + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, label in enumerate(labels):
        draw.text((j * (w + 4) + 4, 3), label, fill="black")
    for i, row in enumerate(tiles):
        for j, tile in enumerate(row):
            sheet.paste(tile, (j * (w + 4), 18 + i * (h + 4)))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--sets", nargs="+", default=["Set5", "Set14", "BSD68"])
    p.add_argument("--srresnet", default=None, help="stage-1 checkpoint (default: the shipped x4 model)")
    p.add_argument("--srgan", default=None, help="stage-2 checkpoint (optional)")
    p.add_argument("--more", action="append", default=[], metavar="LABEL=CKPT",
                   help="another checkpoint to score, under LABEL (repeatable)")
    p.add_argument("--json", type=Path)
    p.add_argument("--figure", type=Path)
    args = p.parse_args()
    torch.set_num_threads(1)
    models = {"SRResNet (ours)": Upscaler.from_checkpoint(args.srresnet)}
    if args.srgan:
        models["SRGAN (ours)"] = Upscaler.from_checkpoint(args.srgan)
    for item in args.more:
        label, sep, ckpt = item.partition("=")
        if not sep:
            p.error(f"--more takes LABEL=CKPT, got {item!r}")
        models[label] = Upscaler.from_checkpoint(ckpt)
    rows: dict[str, dict[str, tuple[float, float | None]]] = {"bicubic (ours)": {}}
    # The grid each method prints: periodic energy at the scale's period (metrics.periodic_energy_db).
    grids: dict[str, dict[str, float]] = {"bicubic (ours)": {}, "original": {}}
    seconds = {}
    for name, upscaler in models.items():
        rows[name] = {}
        for set_name in args.sets:
            started = time.perf_counter()
            result = evaluate_sr(upscaler, root=args.data / set_name)
            seconds[f"{name} {set_name}"] = round(time.perf_counter() - started, 1)
            rows[name][set_name] = (result["model"]["psnr"], result["model"]["ssim"])
            rows["bicubic (ours)"][set_name] = (result["bicubic"]["psnr"], result["bicubic"]["ssim"])
            grids.setdefault(name, {})[set_name] = result["model"]["grid_db"]
            grids["bicubic (ours)"][set_name] = result["bicubic"]["grid_db"]
            grids["original"][set_name] = result["original"]["grid_db"]
    header = "| method | " + " | ".join(f"{s} PSNR / SSIM" for s in args.sets) + " |"
    lines = [header, "|" + " --- |" * (len(args.sets) + 1)]
    for name, by_set in [*rows.items(), *PUBLISHED.items()]:
        cells = []
        for s in args.sets:
            v = by_set.get(s)
            cells.append("-" if not v else f"{v[0]:.2f} / " + (f"{v[1]:.4f}" if v[1] is not None else "-"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    scale = next(iter(models.values())).scale
    grid_lines = [f"| grid at period {scale} (dB) | " + " | ".join(args.sets) + " |",
                  "|" + " --- |" * (len(args.sets) + 1)]
    grid_lines += [f"| {name} | " + " | ".join(f"{by_set[s]:.2f}" for s in args.sets) + " |"
                   for name, by_set in grids.items()]
    print("\n".join(grid_lines))
    print(f"(x{scale}, Y channel, border cropped; {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} thread; seconds per set: {seconds})")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "grids": grids, "seconds": seconds}, indent=2) + "\n")
    if args.figure:
        figure(models, data=args.data, path=args.figure)


if __name__ == "__main__":
    main()
