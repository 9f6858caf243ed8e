"""CycleGAN on an unpaired task whose true mapping only the benchmark knows.

Domain A is crops of one half of the real photos in shared/data; domain B is a fixed classical
stylisation (`stylise` below: a colour grade, then OpenCV's edge-preserving filter) of crops of
the *other* half, so training never sees an image in both domains. The held-out photos of BSD68
are written with their stylisations as paired test data (ROOT/test/A, ROOT/test/B, which
`mosaicgan eval` reads), and G(A_test) is scored against stylise(A_test) by PSNR and SSIM,
beside two baselines: the input taken as the output, and the same generator trained with the
cycle loss off (lambda_cycle = 0, identity off). Output diversity (mean pairwise L1 between the
outputs for different inputs, per pixel and between the images' mean colours) is where mode
collapse shows; the true targets' diversity is the reference value.

    PYTHONPATH=src .venv/bin/python benchmarks/cyclegan_hidden_pairs.py --out runs/hidden \\
        [--size 128] [--net-g resnet_6blocks] [--ngf 32] [--steps 600] [--device auto] [--threads 1]

On a GPU, `--size 256 --net-g resnet_9blocks --ngf 64` is the paper's setting.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import random
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mosaicgan.config import default_config, with_values
from mosaicgan.data.images import image_grid, list_images, pil_to_tensor, read_image, save_image
from mosaicgan.infer.translate.evaluate import evaluate
from mosaicgan.infer.translate.translator import Translator
from mosaicgan.train.loop import train

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data beside the repository
TRAIN_SETS = ("Sun_Hays80", "Urban100", "coral_test_data")  # the README's suggested training photos
TEST_SET = "BSD68"  # held out: one of the README's validation sets
# shared/data/README.md: not photos, or the same photo again at another size.
NOT_PHOTOS = ("checker", "rgb6X4", "mnist_nine", "_segmentation_mask", "posenet/mask")
DUPLICATES = ("cat_720p.jpg", "resized_cat.bmp", "dog_segmentation_256.bmp")

# The hidden mapping: a warm, lifted-black grade (a fixed 3x3 colour matrix and offset), then
# an edge-preserving smoothing that flattens texture into painted-looking regions.
GRADE = np.array([[1.00, 0.15, 0.00], [0.05, 0.90, 0.05], [0.00, 0.15, 0.70]], dtype=np.float32)
LIFT = np.array([0.08, 0.04, 0.10], dtype=np.float32)


def stylise(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> the same size, stylised. Deterministic; not shown to training."""
    graded = np.clip(rgb.astype(np.float32) / 255.0 @ GRADE.T + LIFT, 0, 1)
    graded = (graded * 255 + 0.5).astype(np.uint8)
    return cv2.edgePreservingFilter(graded, flags=cv2.RECURS_FILTER, sigma_s=60, sigma_r=0.4)


def list_photos(folder: Path) -> list[Path]:
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    return [p for p in paths
            if not any(tag in p.relative_to(folder).as_posix() for tag in NOT_PHOTOS) and p.name not in DUPLICATES]


def resized(path: Path, short_side: int) -> np.ndarray:
    """A photo as RGB uint8 with its short side scaled to `short_side` (area filter: no aliasing)."""
    img = np.asarray(read_image(path, mode="RGB"))
    h, w = img.shape[:2]
    scale = short_side / min(h, w)
    size = (max(short_side, round(w * scale)), max(short_side, round(h * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def random_crops(img: np.ndarray, size: int, count: int, rng: random.Random) -> list[np.ndarray]:
    h, w = img.shape[:2]
    crops = []
    for _ in range(count):
        y, x = rng.randint(0, h - size), rng.randint(0, w - size)
        crops.append(img[y : y + size, x : x + size])
    return crops


def build_data(out: Path, *, photos_dir: Path, size: int, crops_per_photo: int, seed: int) -> dict:
    """ROOT/trainA, ROOT/trainB (unpaired, disjoint photos), ROOT/test/A + ROOT/test/B (pairs)."""
    spec = {"size": size, "crops_per_photo": crops_per_photo, "seed": seed, "version": 1}
    manifest = out / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text())["spec"] == spec:
        return json.loads(manifest.read_text())
    rng = random.Random(seed)
    photos = [p for name in TRAIN_SETS for p in list_photos(photos_dir / name)]
    rng.shuffle(photos)
    half = len(photos) // 2
    # Photos are scaled so the short side is twice the crop: a crop shows part of a scene.
    # B is stylised before cropping, as the test targets are, so both see the filter at one scale.
    load = size + size // 8  # training crops `size` out of these, at random
    for domain, group in (("A", photos[:half]), ("B", photos[half:])):
        for path in group:
            img = resized(path, 2 * size)
            if domain == "B":
                img = stylise(img)
            for k, crop in enumerate(random_crops(img, load, crops_per_photo, rng)):
                save_image(Image.fromarray(crop), out / f"train{domain}" / f"{path.parent.name}_{path.stem}_{k}.png")
    tests = list_photos(photos_dir / TEST_SET)
    for path in tests:
        img = resized(path, 2 * size)
        h, w = img.shape[:2]
        y, x = (h - size) // 2, (w - size) // 2
        for domain, source in (("A", img), ("B", stylise(img))):
            save_image(Image.fromarray(source[y : y + size, x : x + size]), out / "test" / domain / f"{path.stem}.png")
    info = {"spec": spec, "photos_a": half, "photos_b": len(photos) - half, "test_photos": len(tests),
            "train_a": half * crops_per_photo, "train_b": (len(photos) - half) * crops_per_photo}
    manifest.write_text(json.dumps(info, indent=2) + "\n")
    return info


def diversity(images: torch.Tensor, *, cell: int = 1) -> float:
    """Mean L1 distance (0-1 pixel units) over all pairs of different images, after averaging
    cells of `cell` x `cell` pixels; near 0 when every input gets the same output (mode
    collapse). Pixel-level distance (cell 1) also counts texture and noise, which collapsed
    outputs keep; with `cell` = the image size it compares the images' mean colours only."""
    x = images.add(1).div(2)
    if cell > 1:
        x = F.avg_pool2d(x, cell)
    x = x.flatten(1)
    pairs = list(itertools.combinations(range(len(x)), 2))
    return sum(float((x[i] - x[j]).abs().mean()) for i, j in pairs) / len(pairs)


def train_run(name: str, *, root: Path, out: Path, args, overrides: dict, n_train: int) -> dict:
    """Train for exactly `args.steps` iterations; the lr schedule (constant, then linear decay)
    is stretched over whole epochs covering them. A run already finished in `out` (same
    steps and upsampling) is reused, so the scores can be recomputed without training again; one that was
    interrupted resumes from its last checkpoint and ends where an uninterrupted run would."""
    run_dir = out / "runs" / name
    record = run_dir / "benchmark_run.json"
    if record.is_file():
        done = json.loads(record.read_text())
        if (done["steps"], done.get("upsample", "deconv")) == (args.steps, args.upsample):
            return done
        raise SystemExit(f"{run_dir} was trained with other settings ({done}); give a new --out")
    epochs_total = max(2, math.ceil(args.steps / n_train))
    config = with_values(default_config("cyclegan"), {
        "data.root": str(root), "data.preprocess": "crop", "data.crop_size": args.size, "data.num_workers": 0,
        "nets.net_g": args.net_g, "nets.ngf": args.ngf, "nets.ndf": args.ngf, "nets.upsample": args.upsample,
        "optim.epochs": epochs_total // 2, "optim.epochs_decay": epochs_total - epochs_total // 2,
        "run.seed": args.seed, "run.device": args.device, "run.log_every": 25, "run.sample_every": 200,
        "run.save_every": 200, "run.keep_every_epochs": 0, **overrides,
    })
    resume = (run_dir / "checkpoints" / "resume.pt").is_file()
    result = train(config, run_dir=run_dir, resume=resume, stop_after=args.steps, progress=False)
    summary = {"run_dir": str(result.run_dir), "steps": result.step, "seconds": result.seconds,
               "upsample": args.upsample}
    record.write_text(json.dumps(summary) + "\n")
    return summary


def score(translator: Translator | None, *, root: Path) -> dict:
    """PSNR/SSIM against the hidden targets (through `mosaicgan eval`'s code) and diversity."""
    inputs = torch.stack([pil_to_tensor(read_image(p)) for p in list_images(root / "test" / "A")])
    if translator is None:
        outputs = inputs
        result = evaluate(Translator.from_net(torch.nn.Identity()), root=root, split="test", layout="folders")
        metrics = result["identity"]
    else:
        outputs = torch.cat([translator(inputs[i : i + 8]) for i in range(0, len(inputs), 8)])
        metrics = evaluate(translator, root=root, split="test", layout="folders")["model"]
    return {**metrics, **describe(outputs), "outputs": outputs}


def describe(images: torch.Tensor) -> dict:
    return {"diversity": diversity(images), "colour_diversity": diversity(images, cell=images.shape[-1]),
            "mean_rgb": [round(c, 3) for c in images.add(1).div(2).mean((0, 2, 3)).tolist()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/hidden_pairs"), help="a new folder (data is reused)")
    parser.add_argument("--photos", type=Path, default=PHOTOS, help="the shared/data folder of real photos")
    parser.add_argument("--size", type=int, default=128, help="training and test crop size")
    parser.add_argument("--net-g", default="resnet_6blocks")
    parser.add_argument("--ngf", type=int, default=32, help="width of G and of D (64 in the paper)")
    parser.add_argument("--upsample", choices=("deconv", "resize"), default="deconv",
                        help="generator upsampling: the reference's transposed convs, or resize + conv")
    parser.add_argument("--steps", type=int, default=600, help="training iterations per run (batch 1)")
    parser.add_argument("--runs", default="cyclegan,no_cycle",
                        help="which trained rows: cyclegan and/or no_cycle, comma-separated")
    parser.add_argument("--crops-per-photo", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1 is fastest on a busy 2-core machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    root = args.out / "data"
    info = build_data(root, photos_dir=args.photos, size=args.size, crops_per_photo=args.crops_per_photo,
                      seed=args.seed)
    print(f"data: {info['train_a']} A crops from {info['photos_a']} photos, {info['train_b']} stylised B crops "
          f"from {info['photos_b']} other photos, {info['test_photos']} test pairs "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    n_train = max(info["train_a"], info["train_b"])
    runs = {
        "cyclegan": {},
        "no_cycle": {"loss.lambda_cycle": 0.0, "loss.lambda_identity": 0.0},
    }
    wanted = args.runs.split(",")
    if not wanted or set(wanted) - set(runs):
        parser.error(f"--runs takes a comma-separated subset of {', '.join(runs)}")
    runs = {name: overrides for name, overrides in runs.items() if name in wanted}
    rows = {"identity (input as output)": score(None, root=root)}
    trained = {}
    for name, overrides in runs.items():
        trained[name] = train_run(name, root=root, out=args.out, args=args, overrides=overrides, n_train=n_train)
        print(f"{name}: {trained[name]['steps']} steps in {trained[name]['seconds']:.0f} s", flush=True)
        device = "cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu"
        translator = Translator.from_checkpoint(trained[name]["run_dir"], device=device)
        label = "CycleGAN (cycle 10, identity 0.5)" if name == "cyclegan" else "cycle loss off (and identity off)"
        if args.upsample != "deconv":
            label += f", {args.upsample} upsampling"
        rows[label] = score(translator, root=root)
    targets = torch.stack([pil_to_tensor(read_image(p)) for p in list_images(root / "test" / "B")])
    target = describe(targets)

    # A strip per test image: input | hidden target | CycleGAN | cycle off, for the first six.
    outputs = [r["outputs"][:6] for r in rows.values()]
    save_image(image_grid([outputs[0], targets[:6], *outputs[1:]], max_rows=6), args.out / "comparison.png")

    device_name = (torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu"
                   else f"CPU ({platform.machine()}, {os.cpu_count()} cores), {args.threads} thread(s)")
    lines = [
        f"| output for A_test ({info['test_photos']} BSD68 crops, {args.size}x{args.size}) "
        "| PSNR (dB) | SSIM | diversity (pixels) | diversity (mean colour) | mean R, G, B |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *[f"| {label} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['diversity']:.4f} | {r['colour_diversity']:.4f} "
          f"| {', '.join(f'{c:.2f}' for c in r['mean_rgb'])} |" for label, r in rows.items()],
        f"| true targets stylise(A_test) | - | - | {target['diversity']:.4f} | {target['colour_diversity']:.4f} "
        f"| {', '.join(f'{c:.2f}' for c in target['mean_rgb'])} |",
    ]
    table = "\n".join(lines)
    print(table)
    summary = {
        "table": table, "data": info, "args": {k: str(v) for k, v in vars(args).items()},
        "runs": trained, "targets": target,
        "rows": {k: {m: v for m, v in r.items() if m != "outputs"} for k, r in rows.items()},
        "device": device_name, "torch": torch.__version__, "seconds_total": time.perf_counter() - started,
    }
    (args.out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"device: {device_name}, torch {torch.__version__}; total {summary['seconds_total']:.0f} s; "
          f"wrote {args.out / 'results.json'} and {args.out / 'comparison.png'}")


if __name__ == "__main__":
    main()
