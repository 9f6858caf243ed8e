"""Are the faces really mosaicked? `add --faces` against hand-checked face boxes, beside the old
Haar cascades and deface.

The photos and boxes are in benchmarks/faces_boxes.json: the photos of ../shared/data with people
in them, each clearly visible face boxed by hand (brow to chin, ear to ear; see the JSON's
"how"), regions where a mosaic is neither required nor wrong ("ignore": faces too small, turned
away or hidden to call, faces in pictures), and face-free photos. For each method the mask it
would mosaic is compared with the boxes:

- recall: a face counts as covered when at least 60% of its box is inside the mask;
- false mosaics: connected parts of the mask (8-connected) that cover no labelled face and
  touch no ignore region, counted per photo over all photos (people and face-free).

Methods: "centerface" is `add --faces`' own mask (RegionFinder, as the CLI builds it, with the
package defaults or the --face-* options given here); "haar" is the mask the previous `add
--faces` made (OpenCV Haar cascades, frontal + profile both ways, union of boxes padded by 10%,
the defaults it shipped with); "deface" is deface 1.5.0 with its defaults (run in its own venv
with `--deface-python`, see faces_deface_masks.py).

    PYTHONPATH=src .venv/bin/python benchmarks/faces.py [--deface-python /tmp/deface-venv/bin/python] \\
        [--sheet runs/faces_sheet.png] [--out runs/faces.json] [--threshold 0.35] [--sweep 0.2,0.35,0.5] [--speed] \\
        [--scale 0.5]

--sheet writes a contact sheet of the labelled boxes (green: faces, yellow: ignore) for review;
--speed measures photos/s of the detector on 1080p photos (1 and 2 threads, batch 1 and 4).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageDraw

from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
from mosaicgan.localize.faces.detect import detect_faces, face_mask, shipped_detector

HERE = Path(__file__).resolve().parent
# ../shared/data beside the repository (or beside the folder of worktrees holding it); --photos overrides.
PHOTOS = next((p / "shared" / "data" for p in HERE.parents[1:3] if (p / "shared" / "data").is_dir()),
              HERE.parents[1] / "shared" / "data")
BOXES = HERE / "faces_boxes.json"
COVERED = 0.6


def load_labels(path: Path) -> dict[str, dict]:
    data = json.loads(path.read_text())
    photos = {}
    for name, entry in data["people"].items():
        photos[name] = {"faces": entry.get("faces", []), "ignore": entry.get("ignore", [])}
    for name in data["face_free"]:
        photos[name] = {"faces": [], "ignore": []}
    return photos


def read_rgb(name: str) -> Image.Image:
    return Image.open(PHOTOS / name).convert("RGB")


# --- the previous `add --faces`: OpenCV Haar cascades, as shipped before CenterFace --------------

def haar_mask(image: Image.Image) -> np.ndarray:
    gray = np.asarray(image.convert("L"))
    height, width = gray.shape
    scale = min(1.0, 1280 / max(height, width))
    if scale < 1.0:
        gray = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    side = max(20, round(0.04 * min(gray.shape)))
    options = {"scaleFactor": 1.1, "minNeighbors": 5, "minSize": (side, side)}
    folder = Path(cv2.data.haarcascades)
    frontal = cv2.CascadeClassifier(str(folder / "haarcascade_frontalface_default.xml"))
    profile = cv2.CascadeClassifier(str(folder / "haarcascade_profileface.xml"))
    found = list(frontal.detectMultiScale(gray, **options)) + list(profile.detectMultiScale(gray, **options))
    found += [(gray.shape[1] - x - w, y, w, h) for x, y, w, h in profile.detectMultiScale(cv2.flip(gray, 1), **options)]
    boxes = [[round(v / scale) for v in (x, y, x + w, y + h)] for x, y, w, h in found]
    # Overlapping boxes were merged by union, then padded by 10% of their size on every side.
    boxes = merge_union(boxes)
    mask = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        dx, dy = round((x1 - x0) * 0.1), round((y1 - y0) * 0.1)
        mask[max(0, y0 - dy):min(height, y1 + dy), max(0, x0 - dx):min(width, x1 + dx)] = True
    return mask


def merge_union(boxes: list[list[int]], iou: float = 0.3, cover: float = 0.6) -> list[list[int]]:
    boxes = [list(b) for b in boxes]
    changed = True
    while changed:
        changed = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
                iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
                inter = ix * iy
                area_a, area_b = (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])
                if inter / (area_a + area_b - inter) > iou or inter / max(1, min(area_a, area_b)) > cover:
                    boxes[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del boxes[j]
                    changed = True
                    break
            if changed:
                break
    return boxes


# --- deface, in its own environment ----------------------------------------------------------------

def deface_masks(python: str, names: list[str]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "masks.npz"
        subprocess.run([python, str(HERE / "faces_deface_masks.py"), str(out), str(PHOTOS), *names], check=True,
                       env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
        data = np.load(out)
        masks, seconds = {}, {}
        for name in names:
            shape = tuple(data[f"shape:{name}"])
            masks[name] = np.unpackbits(data[f"mask:{name}"], axis=1, count=shape[1]).astype(bool)
            seconds[name] = float(data[f"seconds:{name}"])
    return masks, seconds


# --- scoring ---------------------------------------------------------------------------------------

def score(mask: np.ndarray, faces: list[list[int]], ignore: list[list[int]]) -> dict:
    covered = []
    for x0, y0, x1, y1 in faces:
        box = mask[y0:y1, x0:x1]
        covered.append(bool(box.size and box.mean() >= COVERED))
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    false = 0
    for k in range(1, count):
        part = labels == k
        # On a face: it covers a tenth of the face's box, or lies mostly (half) inside it (a
        # mosaic on part of a large face is not a false one).
        on_face = any(part[y0:y1, x0:x1].any() and (part[y0:y1, x0:x1].mean() > 0.1
                                                    or part[y0:y1, x0:x1].sum() > 0.5 * part.sum())
                      for x0, y0, x1, y1 in faces)
        on_ignore = any(part[y0:y1, x0:x1].any() for x0, y0, x1, y1 in ignore)
        false += not (on_face or on_ignore)
    return {"covered": covered, "false": false, "parts": count - 1}


def contact_sheet(labels: dict[str, dict], path: Path, *, cell: int = 360, cols: int = 6) -> None:
    names = [n for n, e in labels.items() if e["faces"] or e["ignore"]]
    rows = -(-len(names) // cols)
    sheet = Image.new("RGB", (cols * cell, rows * (cell + 14)), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    for k, name in enumerate(names):
        image = read_rgb(name)
        s = cell / max(image.size)
        image = image.resize((max(1, round(image.width * s)), max(1, round(image.height * s))))
        d = ImageDraw.Draw(image)
        for color, boxes in (((0, 255, 0), labels[name]["faces"]), ((255, 220, 0), labels[name]["ignore"])):
            for x0, y0, x1, y1 in boxes:
                d.rectangle([x0 * s, y0 * s, x1 * s, y1 * s], outline=color, width=2)
        x, y = (k % cols) * cell, (k // cols) * (cell + 14)
        sheet.paste(image, (x, y + 14))
        draw.text((x + 2, y + 1), f"{name} ({len(labels[name]['faces'])})", fill=(255, 255, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def speed(configs: list[tuple[int, int, bool]]) -> list[dict]:
    """photos/s of the detector (package defaults) on 1080p photos, per (threads, batch, flip)."""
    from mosaicgan.localize.faces.detect import detect_faces_batch, shipped_detector

    sun = sorted((PHOTOS / "Sun_Hays80").iterdir())[:3]
    names = ["coral_test_data/cat_1080p.jpg"] + [f"Sun_Hays80/{p.name}" for p in sun]
    frames = [read_rgb(n).resize((1920, 1080), Image.BILINEAR) for n in names]
    detector = shipped_detector()
    detect_faces_batch(frames[:1], detector=detector)  # warm-up
    rows = []
    for threads, batch, flip in configs:
        torch.set_num_threads(threads)
        start = time.perf_counter()
        for i in range(0, len(frames), batch):
            detect_faces_batch(frames[i:i + batch], detector=detector, flip=flip)
        seconds = time.perf_counter() - start
        rows.append({"threads": threads, "batch": batch, "flip": flip, "photos": len(frames),
                     "photos_per_s": round(len(frames) / seconds, 3), "load_average": os.getloadavg()[0]})
        print(f"1080p, {threads} thread(s), batch {batch}, flip {flip}: {len(frames) / seconds:.2f} photos/s "
              f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    global PHOTOS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boxes", type=Path, default=BOXES)
    parser.add_argument("--photos", type=Path, default=PHOTOS, help=f"the shared photos (default {PHOTOS})")
    parser.add_argument("--deface-python", help="python of a venv with deface 1.5.0 and onnxruntime")
    parser.add_argument("--threshold", type=float, help="--face-threshold (default: the package's)")
    parser.add_argument("--min-face", type=float, help="--min-face (default: the package's)")
    parser.add_argument("--grow", type=float, help="face --grow (default: the package's)")
    parser.add_argument("--shape", choices=["ellipse", "box"], help="--face-shape (default: the package's)")
    parser.add_argument("--methods", default="centerface,haar,deface")
    parser.add_argument("--sweep", default="", metavar="T,T,...",
                        help="also score CenterFace at these thresholds, with and without the mirror-image score "
                             "(one detection pass each way at the lowest threshold, then filtered by score)")
    parser.add_argument("--sheet", type=Path, help="write a contact sheet of the labelled boxes here")
    parser.add_argument("--out", type=Path, help="write the per-photo results (JSON) here")
    parser.add_argument("--speed", action="store_true", help="also measure photos/s at 1080p")
    parser.add_argument("--save-masks", type=Path, help="save every method's masks here (.npz) for rescoring")
    parser.add_argument("--load-masks", type=Path, help="score the masks saved by --save-masks (no detection)")
    parser.add_argument("--tiny", choices=["exact", "confirm"], default=None,
                        help="centerface: faces under 16 px searched at their scale (exact, what `add` does on "
                             "images) or proposed at 16 px and confirmed in windows (confirm, what `add` does on "
                             "videos); default: through RegionFinder, as `add` on images")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="centerface: search each photo scaled by this (as `add --detect-side` scales video "
                             "frames: 640 of a 1280 x 720 frame is 0.5), the mask scaled back (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    PHOTOS = args.photos

    labels = load_labels(args.boxes)
    names = list(labels)
    if args.sheet:
        contact_sheet(labels, args.sheet)
        print(f"wrote {args.sheet}")
    methods = [m for m in args.methods.split(",") if m and (m != "deface" or args.deface_python)]
    options = {k: v for k, v in (("face_threshold", args.threshold), ("min_face", args.min_face),
                                 ("face_grow", args.grow), ("face_shape", args.shape)) if v is not None}
    request = RegionRequest(kind="faces", **options)
    finder = RegionFinder(request)
    sweep = sorted(float(t) for t in args.sweep.split(",") if t)
    for flip in (True, False) if sweep else ():
        for t in sweep:
            method = f"cf t={t:.2f}" + (" flip" if flip else "")
            methods.append(method)
    masks: dict[str, dict[str, np.ndarray]] = {m: {} for m in methods}
    detector = shipped_detector()
    seconds: dict[str, float] = {m: 0.0 for m in methods}
    if args.load_masks:
        saved = np.load(args.load_masks)
        methods = json.loads(str(saved["methods"]))
        seconds = json.loads(str(saved["seconds"]))
        masks = {m: {} for m in methods}
        for m in methods:
            for name in names:
                shape = tuple(saved[f"shape:{name}"])
                masks[m][name] = np.unpackbits(saved[f"{m}:{name}"], axis=1, count=shape[1]).astype(bool)
        names_to_run = []
    else:
        names_to_run = names
    if "deface" in methods and not args.load_masks:
        masks["deface"], per_photo = deface_masks(args.deface_python, names)
        seconds["deface"] = sum(per_photo.values())
    for i, name in enumerate(names_to_run):
        if i % 25 == 0:
            print(f"  {i}/{len(names)} photos", file=sys.stderr, flush=True)
        image = read_rgb(name)
        if "centerface" in methods:
            start = time.perf_counter()
            if args.tiny is not None:
                faces = detect_faces(image, threshold=request.face_threshold, min_face=request.min_face,
                                     flip=request.face_flip, detector=detector, tiny=args.tiny)
                masks["centerface"][name] = face_mask(faces, height=image.height, width=image.width,
                                                      grow=request.face_grow, shape=request.face_shape).numpy()
            elif args.scale == 1.0:
                masks["centerface"][name] = finder.find(image).mask.numpy() > 0
            else:
                small = cv2.resize(np.asarray(image),
                                   (round(image.width * args.scale), round(image.height * args.scale)),
                                   interpolation=cv2.INTER_AREA)
                found = finder.find(small).mask.numpy().astype(np.uint8)
                masks["centerface"][name] = cv2.resize(found, image.size, interpolation=cv2.INTER_NEAREST) > 0
            seconds["centerface"] += time.perf_counter() - start
        if "haar" in methods:
            start = time.perf_counter()
            masks["haar"][name] = haar_mask(image)
            seconds["haar"] += time.perf_counter() - start
        for flip in (True, False) if sweep else ():
            # Without the mirror image, faces found at the lowest threshold and kept by score are
            # those of a detection at the higher one (local maxima and greedy NMS do not depend
            # on the cut). With it, they are not (the mirror-image score is only computed for
            # candidates under twice the threshold), so each threshold is a detection of its own.
            start = time.perf_counter()
            faces = detect_faces(image, threshold=sweep[0], min_face=request.min_face, flip=flip, detector=detector)
            elapsed = time.perf_counter() - start
            for t in sweep:
                method = f"cf t={t:.2f}" + (" flip" if flip else "")
                if flip and t != sweep[0]:
                    start = time.perf_counter()
                    faces = detect_faces(image, threshold=t, min_face=request.min_face, flip=True, detector=detector)
                    elapsed = time.perf_counter() - start
                kept = [f for f in faces if f.score > t]
                masks[method][name] = face_mask(kept, height=image.height, width=image.width, grow=request.face_grow,
                                                shape=request.face_shape).numpy()
                seconds[method] += elapsed

    if args.save_masks:
        arrays = {f"{m}:{n}": np.packbits(masks[m][n], axis=1) for m in methods for n in names}
        arrays.update({f"shape:{n}": np.array(masks[methods[0]][n].shape) for n in names} if methods else {})
        np.savez_compressed(args.save_masks, methods=json.dumps(methods), seconds=json.dumps(seconds), **arrays)
    people = [n for n in names if labels[n]["faces"] or labels[n]["ignore"]]
    total_faces = sum(len(labels[n]["faces"]) for n in names)
    results = {"photos": len(names), "photos_with_people": len(people), "faces": total_faces,
               "machine": platform.processor() or platform.machine(), "threads": args.threads,
               "options": options, "scale": args.scale, "tiny": args.tiny, "methods": {}}
    print(f"{len(names)} photos ({len(people)} with people, {total_faces} labelled faces; "
          f"{len(names) - len(people)} face-free)")
    print(f"{'method':<16} {'recall':>14} {'false mosaics':>14} {'per photo':>10} {'s/photo':>8}")
    for method in methods:
        per = {n: score(masks[method][n], labels[n]["faces"], labels[n]["ignore"]) for n in names}
        covered = sum(sum(p["covered"]) for p in per.values())
        false = sum(p["false"] for p in per.values())
        missed = [f"{n}#{i}" for n, p in per.items() for i, c in enumerate(p["covered"]) if not c]
        false_at = [f"{n}x{p['false']}" for n, p in per.items() if p["false"]]
        results["methods"][method] = {"covered": covered, "recall": covered / total_faces, "false_mosaics": false,
                                      "false_per_photo": false / len(names), "seconds": seconds[method],
                                      "missed": missed, "false_at": false_at}
        print(f"{method:<16} {covered:>4}/{total_faces:<3} {covered / total_faces:>5.1%} {false:>14} "
              f"{false / len(names):>10.3f} {seconds[method] / len(names):>8.2f}")
        print(f"    missed: {', '.join(missed) or '-'}")
        print(f"    false:  {', '.join(false_at) or '-'}")
    if args.speed:
        results["speed"] = speed([(1, 1, True), (1, 4, True), (1, 4, False), (2, 1, True), (2, 4, True)])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
