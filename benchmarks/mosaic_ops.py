"""Speed of `pixelate` per style against a naive reference that loops over blocks in Python.

    python benchmarks/mosaic_ops.py [--batch 8] [--size 512] [--block 16] [--device cpu]

Both run in the same process on the same input (N x 3 x size x size, a different ellipse
mask per image, or every pixel with --full-mask), and the outputs are compared before
anything is timed. `pixelate` computes only the blocks inside the bounding box of the masked
pixels, the naive loop all of them; --full-mask times the vectorisation alone. The reference for
"blur" is a direct 2-D convolution with the full (non-separable) Gaussian kernel, since a
blur has no blocks to loop over. Best of --repeat runs is reported.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch
import torch.nn.functional as F

from mosaicgan.ops.blend import composite
from mosaicgan.ops.masks import mask_bbox
from mosaicgan.ops.mosaic import STYLES, pixelate
from mosaicgan.ops.shapes import Ellipse, draw_shapes


def naive_pixelate(img, mask, *, block, style, generator=None):
    """Block by block: the obvious implementation, kept only as a yardstick."""
    n, c, h, w = img.shape
    mosaic = torch.empty_like(img)
    if style == "blur":
        return composite(img, naive_blur(img, sigma=block / 2), mask)
    for y0 in range(0, h, block):
        for x0 in range(0, w, block):
            cell = img[:, :, y0 : y0 + block, x0 : x0 + block]
            if style == "average":
                value = cell.mean(dim=(2, 3), keepdim=True)
            elif style == "median":
                value = cell.flatten(2).median(dim=2).values[:, :, None, None]
            else:
                k = int(torch.randint(cell.shape[2] * cell.shape[3], (), generator=generator))
                value = cell.flatten(2)[:, :, k, None, None]
            mosaic[:, :, y0 : y0 + block, x0 : x0 + block] = value
    return composite(img, mosaic, mask)


def naive_blur(img, *, sigma):
    radius = math.ceil(3 * sigma)
    taps = torch.arange(-radius, radius + 1, dtype=img.dtype, device=img.device)
    g = torch.exp(-(taps**2) / (2 * sigma * sigma))
    kernel = (g[:, None] * g[None, :])[None, None]
    kernel = kernel / kernel.sum()
    n, c, h, w = img.shape
    flat = img.reshape(n * c, 1, h, w)
    out = F.conv2d(flat, kernel, padding=radius)
    weight = F.conv2d(torch.ones(1, 1, h, w, dtype=img.dtype, device=img.device), kernel, padding=radius)
    return (out / weight).reshape(n, c, h, w)


def best_time(fn, *, repeat: int, device: torch.device) -> float:
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--block", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    # One thread by default: on a shared machine the pool's barrier waits swamp the vectorised
    # ops (the naive loop's tiny ops mostly run on one thread anyway).
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--styles", nargs="+", default=list(STYLES), choices=STYLES)
    parser.add_argument("--full-mask", action="store_true", help="mask every pixel, not ellipses")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    gen = torch.Generator().manual_seed(0)
    img = (torch.rand(args.batch, 3, args.size, args.size, generator=gen) * 2 - 1).to(device)
    s = args.size
    masks = torch.stack(
        [
            draw_shapes(Ellipse(s * (0.3 + 0.05 * i), s * 0.5, s * 0.25, s * 0.15, 20.0 * i), height=s, width=s)
            for i in range(args.batch)
        ]
    ).to(device)
    if args.full_mask:
        masks = torch.ones_like(masks)
    box = mask_bbox(masks.amax(dim=0))  # pixelate computes only the blocks of this box
    share = box.area / (s * s)

    print(f"pixelate on {args.batch}x3x{s}x{s}, block {args.block}, {device}, {torch.get_num_threads()} threads")
    print(f"masked: {masks.mean().item():.0%} of the pixels; their bounding box: {share:.0%} of the image")
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'style':<8} {'vectorised ms':>14} {'naive loop ms':>14} {'speed-up':>9}")
    for style in args.styles:

        def fast(style=style):  # bound as a default, though each is timed within its own iteration
            g = torch.Generator(device=device).manual_seed(0) if style == "random" else None
            return pixelate(img, masks, block=args.block, style=style, generator=g)

        def slow(style=style):
            g = torch.Generator().manual_seed(0) if style == "random" else None
            return naive_pixelate(img, masks, block=args.block, style=style, generator=g)

        if style != "random":  # the two draw their pixels differently; the tests check that style
            a, b = fast(), slow()
            tol = 1e-5 if style != "median" else 0.0
            if not torch.allclose(a, b, atol=tol, rtol=0):
                raise SystemExit(f"{style}: vectorised and naive outputs differ by {(a - b).abs().max():.3g}")
        t_fast = best_time(fast, repeat=args.repeat, device=device)
        t_slow = best_time(slow, repeat=args.repeat, device=device)
        print(f"{style:<8} {t_fast * 1e3:>14.1f} {t_slow * 1e3:>14.1f} {t_slow / t_fast:>8.1f}x")


if __name__ == "__main__":
    main()
