"""What `add --lock-to` costs in bytes, and how coarse the face rule makes the automatic block.

For every photo of benchmarks/faces_boxes.json with at least one labelled face, `add --faces` is
run twice through the job API, without and with --lock-to (a key made here), and the output
sizes compared: the overhead is (locked - plain) / plain, the sealed originals of every face's
region (PNG-compressed crops, padded to a coarse step, sealed; for BMP, which has no place for
it, the sidecar's bytes). Photos where the detector finds nothing are not written and are
skipped. A video is made the same way (tests/video_clips.py: a photo of a face moving over a
720p background with a tone for audio, --video-noise adding a camera's grain) and locked in MP4.

The face rule: for each face found, how many blocks span its detector box's longer side, with
the automatic block of the area rule alone (before) and with the face rule (`core.for_faces` and
`core.for_face_sides`, as `add --faces` applies them to an image).

    PYTHONPATH=src .venv/bin/python benchmarks/lock_overhead.py [--out runs/lock_overhead.json] [--video-seconds 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mosaicgan import jobs
from mosaicgan.infer.add.core import MosaicOptions, block_for, for_face_sides, for_faces
from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
from mosaicgan.infer.image_io import load_image
from mosaicgan.infer.lock.options import LockOptions
from mosaicgan.lock.keys import generate_key_pair

HERE = Path(__file__).resolve().parent
PHOTOS = next((p / "shared" / "data" for p in HERE.parents[1:3] if (p / "shared" / "data").is_dir()),
              HERE.parents[1] / "shared" / "data")


def photos_with_faces(root: Path) -> list[Path]:
    labels = json.loads((HERE / "faces_boxes.json").read_text())["people"]
    return [root / name for name, entry in sorted(labels.items()) if entry.get("faces")]


def image_sizes(photos: list[Path], work: Path, public: Path) -> list[dict]:
    rows = []
    region = jobs.RegionRequest(kind="faces")
    for photo in photos:
        # One folder per photo: several sets hold files of the same name.
        plain_dir, locked_dir = work / "plain" / photo.parent.name, work / "locked" / photo.parent.name
        plain = jobs.add([photo], out=plain_dir, options=jobs.AddOptions(region=region, device="cpu"))
        if not plain.items[0].written:
            continue
        locked = jobs.add([photo], out=locked_dir,
                          options=jobs.AddOptions(region=region, device="cpu", lock=LockOptions(public)))
        sidecar = (locked.items[0].locked or {}).get("sidecar")
        a = plain.items[0].outputs[0].stat().st_size
        b = locked.items[0].outputs[0].stat().st_size + (sidecar.stat().st_size if sidecar else 0)
        rows.append({"photo": f"{photo.parent.name}/{photo.name}", "format": photo.suffix.lower(),
                     "sidecar": sidecar is not None,
                     "faces": sum(1 for f in plain.items[0].regions[0]["faces"] if f["applied"]),
                     "mask_area": plain.items[0].mask_area, "plain_bytes": a, "locked_bytes": b,
                     "overhead_percent": round(100 * (b - a) / a, 2)})
    return rows


def face_rule(photos: list[Path]) -> list[dict]:
    finder = RegionFinder(RegionRequest(kind="faces"))
    base = MosaicOptions()
    rule = for_faces(base, face_grow=finder.request.face_grow)
    rows = []
    for photo in photos:
        region = finder.find(load_image(photo).image)
        if region.empty:
            continue
        sides = [max(f["box"][2] - f["box"][0], f["box"][3] - f["box"][1]) for f in region.info["faces"]]
        before, after = block_for(region.mask, base), for_face_sides(rule, region.mask, sides).block
        for face in region.info["faces"]:
            x0, y0, x1, y1 = face["box"]
            side = max(x1 - x0, y1 - y0)
            rows.append({"photo": f"{photo.parent.name}/{photo.name}", "face_side": side, "block_before": before,
                         "block_after": after, "across_before": round(side / before, 2),
                         "across_after": round(side / after, 2)})
    return rows


def video_size(work: Path, public: Path, seconds: float, noise: float = 0.0) -> dict:
    sys.path.insert(0, str(HERE.parent / "tests"))
    from video_clips import make_clip

    clip = make_clip(work / "clip.mp4", width=1280, height=720, frames=int(25 * seconds), fps=25, photo_size=240,
                     motion=4.0, noise=noise)
    region = jobs.RegionRequest(kind="faces")
    rows = {}
    for name, lock in (("plain", None), ("locked", LockOptions(public))):
        t0 = time.perf_counter()
        result = jobs.add([clip.path], out=work / f"video_{name}",
                          options=jobs.AddOptions(region=region, device="cpu", lock=lock))
        rows[name] = {"bytes": result.items[0].outputs[0].stat().st_size, "seconds": round(time.perf_counter() - t0, 1),
                      "frames": result.items[0].frames, "frames_with_region": result.items[0].frames_with_region}
    rows["input_bytes"] = clip.path.stat().st_size
    rows["noise"] = noise
    rows["overhead_percent"] = round(100 * (rows["locked"]["bytes"] - rows["plain"]["bytes"]) / rows["plain"]["bytes"],
                                     2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=PHOTOS)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--video-seconds", type=float, default=5.0)
    parser.add_argument("--video-noise", type=float, default=0.0,
                        help="Gaussian noise (levels, 0-255) on the clip's frames, as a camera's sensor adds")
    parser.add_argument("--video-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    photos = photos_with_faces(args.photos)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pair = generate_key_pair(work / "keys")
        video = video_size(work, pair.public, args.video_seconds, args.video_noise) if args.video_seconds > 0 else None
        if args.video_only:
            print(json.dumps(video, indent=1))
            return
        images = image_sizes(photos, work, pair.public)
        rule = face_rule(photos)
    over = np.array([r["overhead_percent"] for r in images])
    formats = sorted({r["format"] for r in images})
    by_format = {fmt: [r["overhead_percent"] for r in images if r["format"] == fmt] for fmt in formats}
    summary = {
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        "images": len(images),
        "overhead_percent": {"median": float(np.median(over)), "min": float(over.min()), "max": float(over.max())},
        "overhead_by_format": {k: {"n": len(v), "median": float(np.median(v))} for k, v in sorted(by_format.items())},
        "faces": len(rule),
        "blocks_across_before": {"median": float(np.median([r["across_before"] for r in rule])),
                                 "max": float(max(r["across_before"] for r in rule))},
        "blocks_across_after": {"median": float(np.median([r["across_after"] for r in rule])),
                                "max": float(max(r["across_after"] for r in rule))},
        "photos_block_changed": len({r["photo"] for r in rule if r["block_before"] != r["block_after"]}),
        "video": video,
    }
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": summary, "images": images, "face_rule": rule}, indent=1))


if __name__ == "__main__":
    main()
