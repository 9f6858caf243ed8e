"""How far tiled generation is from whole-image generation, by distance from the nearest cut.

    .venv/bin/python benchmarks/tile_seams.py --checkpoint runs/x --tile 512 --overlap 256 photo.jpg ...
    .venv/bin/python benchmarks/tile_seams.py --net resnet_9blocks --tile 256 --overlap 64 --crop 512 photo.jpg

Each photo (optionally center-cropped to `--crop` pixels a side, to keep a big network's
whole-image pass short) goes through `Translator` twice: whole (`tile=0`) and in tiles. The
absolute difference, in 8-bit levels (1 level = 2/255 on [-1, 1]), is binned by each pixel's
distance to the nearest tile edge that is a cut (not an image border): a network that sees no
further than the overlap allows differs only near the cuts; a U-Net that sees the whole tile,
or instance norm's per-tile statistics, differs everywhere, and that is what this measures.
Without `--checkpoint`, an untrained network of `--net` (pix2pix initialisation) is used.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from mosaicgan.data.images import pil_to_tensor, read_image
from mosaicgan.infer.translate.translator import Translator, pad_to_multiple
from mosaicgan.nets.layers import init_weights
from mosaicgan.nets.registry import get_net
from mosaicgan.ops.tiles import plan_tiles

BINS = (0, 16, 32, 64, 128, 256, 10**9)


def cut_distance(height: int, width: int, *, tile: int, overlap: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Distance (pixels) of each pixel of the cropped image to the nearest tile edge that is a cut,
    on the padded image the tiles were planned on; `box` = (top, left, h, w) of the image in it."""
    dist = np.full((height, width), np.inf)
    ys, xs = np.arange(height)[:, None], np.arange(width)[None, :]
    for top, left, th, tw in plan_tiles(height, width, tile=tile, overlap=overlap):
        for edge, is_cut, coords in ((top, top > 0, ys), (top + th, top + th < height, ys),
                                     (left, left > 0, xs), (left + tw, left + tw < width, xs)):
            if is_cut:
                dist = np.minimum(dist, np.abs(coords + 0.5 - edge))
    box_top, box_left, h, w = box
    return dist[box_top : box_top + h, box_left : box_left + w]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--checkpoint")
    parser.add_argument("--net", default="unet_256", help="untrained network when no --checkpoint")
    parser.add_argument("--tile", type=int, required=True)
    parser.add_argument("--overlap", type=int, required=True)
    parser.add_argument("--crop", type=int, default=0, help="center crop to this many pixels a side first")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    options = {"keep_dropout": False, "precision": args.precision}
    if args.checkpoint:
        whole = Translator.from_checkpoint(args.checkpoint, tile=0, **options)
    else:
        whole = Translator.from_net(init_weights(get_net(args.net)), tile=0, **options)
    tiled = Translator.from_net(whole.net, tile=args.tile, overlap=args.overlap, **options)
    print(f"# {args.checkpoint or 'untrained ' + args.net}, tile {args.tile}, overlap {args.overlap}, "
          f"{args.precision}; |tiled - whole| in 8-bit levels by distance to the nearest cut")
    labels = [f"{a}-{b}" if b < 10**9 else f">={a}" for a, b in zip(BINS, BINS[1:], strict=False)]
    print("| image | size | " + " | ".join(f"{s} px: mean / p99" for s in labels) + " | all: mean / max |")
    print("|---|---|" + "---|" * (len(labels) + 1))
    for path in args.images:
        x = pil_to_tensor(read_image(path).convert("RGB"))[None]
        if args.crop:
            h, w = x.shape[-2:]
            ch, cw = min(h, args.crop), min(w, args.crop)
            x = x[..., (h - ch) // 2 : (h - ch) // 2 + ch, (w - cw) // 2 : (w - cw) // 2 + cw]
        diff = ((tiled(x) - whole(x)).abs().amax(dim=1)[0] * 127.5).numpy()
        padded, box = pad_to_multiple(x, whole.multiple)
        dist = cut_distance(padded.shape[-2], padded.shape[-1], tile=args.tile, overlap=args.overlap, box=box)
        cells = []
        for lo, hi in zip(BINS, BINS[1:], strict=False):
            sel = diff[(dist >= lo) & (dist < hi)]
            cells.append(f"{sel.mean():.2f} / {np.percentile(sel, 99):.1f}" if sel.size else "-")
        print(f"| {path.name} | {x.shape[-1]}x{x.shape[-2]} | " + " | ".join(cells) +
              f" | {diff.mean():.2f} / {diff.max():.1f} |", flush=True)


if __name__ == "__main__":
    main()
