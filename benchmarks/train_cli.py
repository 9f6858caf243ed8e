"""Training speed as a user gets it: whole training commands with their defaults, each a fresh
process, alternated round by round (`benchmarks/train_speed.py --cli` runs this).

- ours: `mosaicgan train MODEL --data D --out R --stop-after N` with nothing else (so the
  default precision, "auto", and every default lever), also with `--precision fp32` to show what
  the default buys; the time of a step is read from log.jsonl (`--set run.log_every=1`: one line
  per step, its "time" since the start), the median of the steps after --warmup;
- the reference, with `--reference DIR` (a checkout of junyanz/pytorch-CycleGAN-and-pix2pix):
  its `train.py` with its defaults for the model (`--display_id -1 --no_html`, `--print_freq`
  = the batch, so every step is logged), the time of a step read from its loss_log.txt
  ("time:", the computing time per image, times the batch), same median.

--threads N sets OMP_NUM_THREADS=N for every run (on a machine shared with other jobs two
threads wait for each other at every parallel region while one of them is descheduled, which
made a 0.4 s pix2pix step take 5-9 s at load average 8; one thread does not).

Both train on the same made-up data set: real photos of ../shared/data/Sun_Hays80 (training
photos), as aligned A|B pairs for pix2pix (B the photo mirrored) and two folders for CycleGAN.
Default threads (no OMP_NUM_THREADS), as a user runs them. Print the load average beside the
figures.

    PYTHONPATH=src .venv/bin/python benchmarks/train_speed.py --cli [--reference DIR]
        [--cases pix2pix:1 pix2pix:4 cyclegan:1] [--rounds 3] [--steps 8] [--warmup 3]
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
PHOTOS = next((p / "shared" / "data" for p in HERE.parents[1:3] if (p / "shared" / "data").is_dir()),
              HERE.parents[1] / "shared" / "data")


def make_data(root: Path, *, model: str, count: int = 16, size: int = 286) -> Path:
    """A small training set from real photos: aligned A|B pairs (pix2pix) or trainA/trainB (CycleGAN)."""
    photos = sorted((PHOTOS / "Sun_Hays80").glob("*.jpg"))[:2 * count]
    images = [Image.open(p).convert("RGB").resize((size, size), Image.BICUBIC) for p in photos]
    if model == "pix2pix":
        folder = root / "train"
        folder.mkdir(parents=True, exist_ok=True)
        for k, image in enumerate(images[:count]):
            pair = Image.new("RGB", (2 * size, size))
            pair.paste(image, (0, 0))
            pair.paste(image.transpose(Image.FLIP_LEFT_RIGHT), (size, 0))
            pair.save(folder / f"{k:03d}.jpg", quality=95)
    else:
        for name, part in (("trainA", images[:count]), ("trainB", images[count:2 * count])):
            (root / name).mkdir(parents=True, exist_ok=True)
            for k, image in enumerate(part):
                image.save(root / name / f"{k:03d}.jpg", quality=95)
    return root


def _env(threads: int) -> dict[str, str]:
    """The environment of a run: default threads (0), or OMP/MKL_NUM_THREADS = threads."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def ours(*, model: str, batch: int, data: Path, out: Path, steps: int, extra: list[str],
         threads: int = 0) -> list[float]:
    """Seconds of each step of `mosaicgan train` (fresh process; from its log.jsonl)."""
    env = _env(threads)
    cmd = [sys.executable, "-m", "mosaicgan", "train", model, "--data", str(data), "--out", str(out),
           "--stop-after", str(steps), "--batch-size", str(batch), "--set", "run.log_every=1", "--quiet", *extra]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    times = [r["time"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if "time" in r]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def reference(*, model: str, batch: int, data: Path, out: Path, steps: int, root: Path,
              threads: int = 0) -> list[float]:
    """Seconds of each step of the reference's train.py (fresh process; from its loss_log.txt)."""
    env = _env(threads)
    cmd = [sys.executable, str(root / "train.py"), "--dataroot", str(data), "--name", "bench", "--model",
           "pix2pix" if model == "pix2pix" else "cycle_gan", "--checkpoints_dir", str(out), "--display_id", "-1",
           "--no_html", "--print_freq", str(batch), "--batch_size", str(batch), "--gpu_ids", "-1",
           "--max_dataset_size", str(steps * batch), "--n_epochs", "1", "--n_epochs_decay", "0",
           "--save_epoch_freq", "1000", "--save_latest_freq", "100000000"]
    if model == "pix2pix":
        cmd += ["--direction", "AtoB"]
    subprocess.run(cmd, check=True, env=env, cwd=root, stdout=subprocess.DEVNULL)
    text = (out / "bench" / "loss_log.txt").read_text()
    return [float(t) * batch for t in re.findall(r"time: ([0-9.]+)", text)]


def run(args) -> None:
    import torch

    cases = [(c.split(":")[0], int(c.split(":")[1])) for c in (args.cases or ["pix2pix:1", "pix2pix:4", "cyclegan:1"])]
    threads = f"OMP_NUM_THREADS={args.threads}" if args.threads else "default threads"
    print(f"{date.today()}  torch {torch.__version__}  {os.cpu_count()} CPUs, {threads}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="train_cli_") as tmp:
        tmp = Path(tmp)
        for model, batch in cases:
            data = make_data(tmp / f"data_{model}", model=model) if not (tmp / f"data_{model}").exists() \
                else tmp / f"data_{model}"
            runs: dict[str, list[float]] = {}
            loads = []
            variants = [("ours, defaults", []), ("ours, --precision fp32", ["--precision", "fp32"])]
            for r in range(args.rounds):
                if args.reference:
                    out = tmp / f"ref_{model}_{batch}_{r}"
                    steps = reference(model=model, batch=batch, data=data, out=out, steps=args.steps + args.warmup,
                                      root=Path(args.reference), threads=args.threads)
                    runs.setdefault("reference, defaults", []).append(statistics.median(steps[args.warmup:]))
                for name, extra in variants:
                    out = tmp / f"ours_{model}_{batch}_{r}_{len(extra)}"
                    steps = ours(model=model, batch=batch, data=data, out=out, steps=args.steps + args.warmup,
                                 extra=extra, threads=args.threads)
                    runs.setdefault(name, []).append(statistics.median(steps[args.warmup - 1:]))
                loads.append(os.getloadavg()[0])
            base_name = "reference, defaults" if args.reference else "ours, --precision fp32"
            base = statistics.median(runs[base_name])
            print(f"\n{model} batch {batch}: {args.rounds} rounds of {args.steps} steps after {args.warmup} "
                  f"(load average {' '.join(f'{x:.2f}' for x in loads)}); x = speed against {base_name}")
            print("| run | s/step (median) | s/step per round | x |\n|---|---|---|---|")
            for name, values in runs.items():
                step = statistics.median(values)
                print(f"| {name} | {step:.3f} | {' '.join(f'{v:.3f}' for v in values)} | {base / step:.2f} |",
                      flush=True)
