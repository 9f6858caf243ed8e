"""Flicker of `add --faces` on a clip whose content in the face region is still: steadied
(tracked, smoothed, bridged) against frame-by-frame regions; with --remove, of `remove` on
the same clip mosaicked (still restorations against restoring every frame afresh).

    .venv/bin/python benchmarks/video_flicker.py [--frames 100] [--noise 3] [--remove]
    .venv/bin/python benchmarks/video_flicker.py --remove --recipes mean,nearest,... [--moving]

The clip (tests/video_clips.py) holds the Grace Hopper photo still over a gradient with
moving shapes elsewhere, plus per-frame sensor-like noise, so the detector's boxes wobble and
sometimes miss as on real footage. Flicker = mean absolute difference of consecutive output
frames inside the photo's box (0..255 scale); the input's own figure there (the noise, after
the codec) is the floor. Also counted: frames where the face is not mosaicked at all (the
middle of the face unchanged from the input).

--recipes (with --remove): the mosaic is made per frame by each recipe of `ops.recipes` (the
grid at the box's corner, as a tool that pixelates a tracked box does) and encoded as H.264
CRF 18; --moving makes the photo, and the mosaicked box with it, move (1.5 px a frame), and
flicker and error are then measured in the box's own coordinates, frame to frame.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--noise", type=float, default=3.0)
    p.add_argument("--size", type=int, nargs=2, default=[320, 240])
    p.add_argument("--photo", type=int, default=128, help="photo width in pixels")
    p.add_argument("--remove", action="store_true", help="measure `remove` instead of `add --faces`")
    p.add_argument("--block", type=int, default=8, help="--remove: block size of the mosaic")
    p.add_argument("--recipes", default=None, help="--remove: mosaic with these recipes (comma-separated)")
    p.add_argument("--moving", action="store_true", help="--remove --recipes: the mosaicked region moves")
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.remove and args.recipes:
        recipe_flicker(args)
        return
    if args.remove:
        remove_flicker(args)
        return
    from mosaicgan.infer.add.core import MosaicOptions
    from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
    from mosaicgan.infer.add.video import AddVideoOptions, add_mosaic_video
    from mosaicgan.infer.video.steady import TrackingOptions
    from video_clips import make_clip, read_frames

    folder = Path(tempfile.mkdtemp(prefix="video_flicker_"))
    width, height = args.size
    clip = make_clip(folder / "still.mp4", width=width, height=height, frames=args.frames, photo_size=args.photo,
                     static=True, noise=args.noise, audio=False)
    x0, y0, x1, y1 = clip.boxes[0]
    # The face inside the photo (Grace Hopper's face box in the 256 x 300 original, inner part).
    s = args.photo / 256
    fx0, fy0, fx1, fy1 = x0 + round(85 * s), y0 + round(62 * s), x0 + round(181 * s), y0 + round(158 * s)

    def figures(path: Path) -> dict:
        frames, _, _ = read_frames(path)
        crops = np.stack([f[y0:y1, x0:x1].astype(float) for f in frames])
        return {"flicker": round(float(np.abs(np.diff(crops, axis=0)).mean()), 2), "frames": len(frames)}

    frames_in, _, _ = read_frames(clip.path)
    rows = {"input": figures(clip.path)}
    finder = RegionFinder(RegionRequest(kind="faces"))
    for name, steady in (("frame by frame", AddVideoOptions(tracking=TrackingOptions(steady=False, detect_every=1))),
                         ("steadied", AddVideoOptions())):
        out = folder / f"{name.replace(' ', '_')}.mp4"
        add_mosaic_video(clip.path, out, finder=finder, options=MosaicOptions(), video=steady)
        row = figures(out)
        frames_out, _, _ = read_frames(out)
        bare = sum(np.abs(a[fy0:fy1, fx0:fx1].astype(int) - b[fy0:fy1, fx0:fx1]).mean() < 3
                   for a, b in zip(frames_in, frames_out, strict=False))
        row["face_not_mosaicked"] = int(bare)
        rows[name] = row
    print(json.dumps({"clip": f"{width}x{height}, {args.frames} frames, noise {args.noise}",
                      "load": round(os.getloadavg()[0], 1), **rows}, indent=1))


def remove_flicker(args) -> None:
    """The photo held still with sensor-like noise, mosaicked over its face box by `add --box`
    (H.264, CRF 18, as a censored clip would come), then restored by `remove`: found or from a
    mask, every frame afresh (--no-steady) or steadied. Flicker inside the mosaic's box; error:
    mean absolute difference from the clean clip there (the mosaic's own is the baseline)."""
    import time

    from PIL import Image

    from mosaicgan.infer.add.core import MosaicOptions
    from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
    from mosaicgan.infer.add.video import add_mosaic_video
    from mosaicgan.infer.remove.restorer import load_restorer
    from mosaicgan.infer.remove.video import RemoveVideoOptions, remove_mosaic_video
    from mosaicgan.infer.video.steady import TrackingOptions
    from video_clips import make_clip, read_frames

    folder = Path(tempfile.mkdtemp(prefix="video_flicker_remove_"))
    width, height = args.size
    clip = make_clip(folder / "still.mp4", width=width, height=height, frames=args.frames, photo_size=args.photo,
                     static=True, noise=args.noise, audio=False)
    x0, y0, x1, y1 = clip.boxes[0]
    s = args.photo / 256
    box = (x0 + round(60 * s), y0 + round(40 * s), x0 + round(200 * s), y0 + round(190 * s))
    mosaicked = folder / "mosaicked.mp4"
    finder = RegionFinder(RegionRequest(kind="boxes", boxes=((box[0], box[1], box[2] - box[0], box[3] - box[1]),)))
    add_mosaic_video(clip.path, mosaicked, finder=finder, options=MosaicOptions(block=args.block))
    mask = folder / "mask.png"
    m = np.zeros((height, width), np.uint8)
    m[box[1]:box[3], box[0]:box[2]] = 255
    Image.fromarray(m).save(mask)
    clean, _, _ = read_frames(clip.path)

    def figures(path: Path) -> dict:
        frames, _, _ = read_frames(path)
        crops = np.stack([f[box[1]:box[3], box[0]:box[2]].astype(float) for f in frames])
        truth = np.stack([f[box[1]:box[3], box[0]:box[2]].astype(float) for f in clean])
        return {"flicker": round(float(np.abs(np.diff(crops, axis=0)).mean()), 3),
                "error": round(float(np.abs(crops - truth).mean()), 2), "frames": len(frames)}

    rows = {"clean input": figures(clip.path), "mosaicked input": figures(mosaicked)}
    restorer = load_restorer()
    for where in ("found", "mask"):
        for name, options in (("frame by frame", RemoveVideoOptions(tracking=TrackingOptions(steady=False))),
                              ("steadied", RemoveVideoOptions())):
            out = folder / f"{where}_{name.replace(' ', '_')}.mp4"
            t0 = time.perf_counter()
            result = remove_mosaic_video(mosaicked, out, restorer=restorer, options=options,
                                         mask=mask if where == "mask" else None)
            row = figures(out)
            row.update({"restored_frames": result.frames_with_region, "wall_s": round(time.perf_counter() - t0, 1),
                        "stages_s": {k: round(v, 1) for k, v in result.seconds.items()}})
            rows[f"{where}, {name}"] = row
    print(json.dumps({"clip": f"{width}x{height}, {args.frames} frames, noise {args.noise}, block {args.block}, "
                              f"box {box}", "restorer": restorer.name, "load": round(os.getloadavg()[0], 1), **rows},
                     indent=1))


def recipe_flicker(args) -> None:
    """Per recipe: a clip mosaicked frame by frame by that recipe over the photo's face box (moving
    with the photo with --moving), restored by `remove` finding the mosaics itself, every frame
    afresh and steadied. Flicker and error inside the box, in the box's coordinates."""
    import time
    from fractions import Fraction

    import av
    import torch

    from mosaicgan.infer.remove.restorer import load_restorer
    from mosaicgan.infer.remove.video import RemoveVideoOptions, remove_mosaic_video
    from mosaicgan.infer.video.steady import TrackingOptions
    from mosaicgan.ops.grid import Grid
    from mosaicgan.ops.recipes import mosaic_recipe
    from video_clips import make_clip, read_frames

    folder = Path(tempfile.mkdtemp(prefix="video_flicker_recipes_"))
    width, height = args.size
    clip = make_clip(folder / "clean.mp4", width=width, height=height, frames=args.frames, photo_size=args.photo,
                     static=not args.moving, noise=args.noise, audio=False)
    clean, _, _ = read_frames(clip.path)
    s = args.photo / 256
    # The face inside the photo, whole blocks from its corner.
    size = ((round(140 * s) // args.block) * args.block, (round(150 * s) // args.block) * args.block)
    boxes = [(x0 + round(60 * s), y0 + round(40 * s)) for x0, y0, _, _ in clip.boxes]

    def crops(frames) -> np.ndarray:
        return np.stack([f[by:by + size[1], bx:bx + size[0]].astype(float)
                         for f, (bx, by) in zip(frames, boxes, strict=True)])

    truth = crops(clean)
    restorer = load_restorer()
    rows = {"clean input": {"flicker": round(float(np.abs(np.diff(truth, axis=0)).mean()), 3)}}
    for recipe in [r.strip() for r in args.recipes.split(",") if r.strip()]:
        mosaicked = folder / f"{recipe}.mp4"
        out = av.open(str(mosaicked), "w", format="mp4")
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        stream.options = {"crf": "18", "preset": "ultrafast"}
        for i, (frame, (bx, by)) in enumerate(zip(clean, boxes, strict=True)):
            x = torch.from_numpy(frame).permute(2, 0, 1).float().div(127.5).sub(1)
            mask = torch.zeros(1, height, width)
            mask[:, by:by + size[1], bx:bx + size[0]] = 1
            g = torch.Generator().manual_seed(i)
            y = mosaic_recipe(x, mask, recipe=recipe, grid=Grid(args.block, args.block, by, bx), generator=g)
            arr = y.add(1).mul(127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
            vf = av.VideoFrame.from_ndarray(arr, format="rgb24")
            vf.pts = i
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        out.close()

        def figures(path: Path) -> dict:
            got = crops(read_frames(path)[0])
            return {"flicker": round(float(np.abs(np.diff(got, axis=0)).mean()), 3),
                    "error": round(float(np.abs(got - truth).mean()), 2)}

        rows[f"{recipe}: mosaicked input"] = figures(mosaicked)
        for name, options in (("frame by frame", RemoveVideoOptions(tracking=TrackingOptions(steady=False))),
                              ("steadied", RemoveVideoOptions())):
            restored = folder / f"{recipe}_{name.replace(' ', '_')}.mp4"
            t0 = time.perf_counter()
            result = remove_mosaic_video(mosaicked, restored, restorer=restorer, options=options)
            row = figures(restored) if result.written else {"flicker": None, "error": None}
            row.update({"restored_frames": result.frames_with_region, "wall_s": round(time.perf_counter() - t0, 1)})
            rows[f"{recipe}: remove, {name}"] = row
        print(json.dumps({recipe: {k: v for k, v in rows.items() if k.startswith(recipe)}}), file=sys.stderr)
    print(json.dumps({"clip": f"{width}x{height}, {args.frames} frames, noise {args.noise}, block {args.block}, "
                              f"{'moving' if args.moving else 'still'} box {size[0]}x{size[1]}",
                      "restorer": restorer.name, "load": round(os.getloadavg()[0], 1), **rows}, indent=1))


if __name__ == "__main__":
    main()
