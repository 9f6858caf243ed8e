"""The unpaired family on the task with a hidden answer of `cyclegan_hidden_pairs.py`: CycleGAN,
DiscoGAN, DualGAN, UNIT, CoGAN and Dong et al., beside the input taken as output and CycleGAN
without its cycle loss, each trained with several seeds at one fixed budget.

The data (A: crops of half of the training photos; B: a fixed stylisation of crops of the other
half; test: BSD68 centre crops and their stylisations) is built by `cyclegan_hidden_pairs.build_data`
with its seed 0 for every row; the seeds vary the training only. Every run trains `--steps`
iterations of batch `--batch` at `--size` pixels, networks of width `--ngf` (G and D), bf16
autocast (run.precision), each model's own preset otherwise (the model table), except what a row
states. A row's figures are the mean and the sample standard deviation over its seeds.

    PYTHONPATH=src .venv/bin/python benchmarks/unpaired_family.py --out runs/family \\
        [--rows cyclegan,discogan,...] [--seeds 0,1,2] [--steps 300] [--size 128] [--ngf 32]

Finished runs in --out are rescored, not retrained; an interrupted run resumes from its last
checkpoint (a run of more steps than asked is refused: give a new --out).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from mosaicgan.config import default_config, with_values
from mosaicgan.infer.translate.translator import Translator
from mosaicgan.train.loop import train


def _hidden_pairs():
    """The task's module, beside this file (benchmarks/ is not a package)."""
    path = Path(__file__).with_name("cyclegan_hidden_pairs.py")
    spec = importlib.util.spec_from_file_location("cyclegan_hidden_pairs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


H = _hidden_pairs()

# At batch 1, batch norm trains on one image's statistics and translates with running averages
# that never matched them; the presets that use it (DiscoGAN's and DCGAN's batch 64) get instance
# norm here instead, so every row is scored as it trained.
_INSTANCE = {"nets.norm": "instance"}
# row -> (model, settings beside the common ones, label)
ROWS: dict[str, tuple[str, dict, str]] = {
    "cyclegan": ("cyclegan", {"nets.net_g": "resnet_6blocks"}, "CycleGAN (resnet_6blocks, cycle 10, identity 0.5)"),
    "no_cycle": ("cyclegan", {"nets.net_g": "resnet_6blocks", "loss.lambda_cycle": 0.0, "loss.lambda_identity": 0.0},
                 "CycleGAN, cycle and identity losses off"),
    "discogan": ("discogan", _INSTANCE, "DiscoGAN (encoder-decoder, BCE, MSE reconstruction x1)"),
    "dualgan": ("dualgan", {"nets.net_g": "unet_128"}, "DualGAN (U-Net 128, WGAN clip 0.01, n_critic 2, L1 x100)"),
    "unit": ("unit", {"nets.blocks": 3}, "UNIT (3 blocks a side, one shared)"),
    "cogan": ("cogan", {**_INSTANCE, "nets.inversion_steps": 100}, "CoGAN (translation: 100 inversion steps)"),
    "dong": ("dong", _INSTANCE, "Dong et al. (gan 1/2, encoder 1/4, joint 1/4 of the steps)"),
    "cyclegan_skip": ("cyclegan", {"nets.net_g": "resnet_6blocks", "nets.global_skip": True, "nets.upsample": "resize"},
                      "CycleGAN + global skip + resize upsampling"),
    "cyclegan_skip_noidt": ("cyclegan", {"nets.net_g": "resnet_6blocks", "nets.global_skip": True,
                                         "nets.upsample": "resize", "loss.lambda_identity": 0.0},
                            "CycleGAN + global skip + resize upsampling, identity loss off"),
}
DONG_STAGES = (("gan", 0.5), ("encoder", 0.25), ("joint", 0.25))


def config_for(model: str, overrides: dict, *, root: Path, args, seed: int, steps: int, n_train: int):
    epochs_total = max(2, math.ceil(steps * args.batch / n_train))
    return with_values(default_config(model), {
        "data.root": str(root), "data.preprocess": "crop", "data.crop_size": args.size, "data.num_workers": 0,
        "nets.ngf": args.ngf, "nets.ndf": args.ngf, "optim.batch_size": args.batch,
        "optim.epochs": epochs_total // 2, "optim.epochs_decay": epochs_total - epochs_total // 2,
        "run.seed": seed, "run.device": args.device, "run.precision": args.precision, "run.log_every": 25,
        "run.sample_every": 100_000, "run.save_every": 100, "run.keep_every_epochs": 0, **overrides,
    })


def train_once(config, run_dir: Path, *, steps: int) -> dict:
    """Train `config` for `steps` iterations into `run_dir`, or reuse/resume what is there."""
    record = run_dir / "benchmark_run.json"
    if record.is_file():
        done = json.loads(record.read_text())
        if done["steps"] == steps:
            return done
        raise SystemExit(f"{run_dir} was trained for {done['steps']} steps, not {steps}; give a new --out")
    resume = (run_dir / "checkpoints" / "resume.pt").is_file()
    result = train(config, run_dir=run_dir, resume=resume, stop_after=steps, progress=False)
    if result.step < steps:  # stopped by a signal (after a checkpoint): the next start resumes it
        raise SystemExit(f"{run_dir}: stopped at iteration {result.step} of {steps} ({result.stopped_by}); "
                         "run the same command again to continue")
    summary = {"run_dir": str(run_dir), "steps": result.step, "seconds": round(result.seconds, 1)}
    record.write_text(json.dumps(summary) + "\n")
    return summary


def train_row(row: str, *, seed: int, root: Path, args, n_train: int) -> tuple[Path, float]:
    """The checkpoint that translates for (row, seed), and the training seconds it took."""
    model, overrides, _ = ROWS[row]
    base = args.out / "runs" / f"{row}_s{seed}"
    if model != "dong":
        config = config_for(model, overrides, root=root, args=args, seed=seed, steps=args.steps, n_train=n_train)
        done = train_once(config, base, steps=args.steps)
        return base, done["seconds"]
    seconds, previous = 0.0, None
    for stage, share in DONG_STAGES:
        steps = max(1, round(args.steps * share))
        stage_overrides = {**overrides, "dong.stage": stage}
        if previous is not None:
            stage_overrides["run.init_from"] = str(previous)
        config = config_for(model, stage_overrides, root=root, args=args, seed=seed, steps=steps, n_train=n_train)
        done = train_once(config, base / stage, steps=steps)
        seconds += done["seconds"]
        previous = base / stage
    return previous, seconds


def scored_run(row: str, *, seed: int, root: Path, args, n_train: int, test_photos: int) -> dict:
    """Train (or reuse) the run of (row, seed) and score it, or reuse its scores."""
    record = args.out / "runs" / f"{row}_s{seed}.scores.json"
    if record.is_file():
        return json.loads(record.read_text())
    run, seconds = train_row(row, seed=seed, root=root, args=args, n_train=n_train)
    translator = Translator.from_checkpoint(run, device=args.device)
    tick = time.perf_counter()
    scored = H.score(translator, root=root)
    result = {**_metrics(scored), "train_seconds": seconds,
              "translate_seconds_per_image": round((time.perf_counter() - tick) / test_photos, 3)}
    record.write_text(json.dumps(result) + "\n")
    return result


def figure(rows: list[str], *, seed: int, root: Path, args, n_train: int, targets: torch.Tensor) -> None:
    """args.out/comparison.png: for the first 6 test images (one per row of the sheet), the input,
    the hidden target, then each row's output at `seed` (one column per row, in --rows order)."""
    inputs = torch.stack([H.pil_to_tensor(H.read_image(p)) for p in H.list_images(root / "test" / "A")[:6]])
    columns = [inputs, targets[:6]]
    for row in rows:
        run, _ = train_row(row, seed=seed, root=root, args=args, n_train=n_train)  # trained already: reused
        columns.append(Translator.from_checkpoint(run, device=args.device)(inputs))
    H.save_image(H.image_grid(columns, max_rows=6), args.out / "comparison.png")
    print(f"wrote {args.out / 'comparison.png'} (input | target | {' | '.join(rows)}; seed {seed})")


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/family"))
    parser.add_argument("--photos", type=Path, default=H.PHOTOS, help="the shared/data folder of real photos")
    parser.add_argument("--rows", default="cyclegan,no_cycle,discogan,dualgan,unit,cogan,dong",
                        help=f"comma-separated, of: {', '.join(ROWS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=300, help="training iterations per run")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--ngf", type=int, default=32, help="width of G and D")
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rows = args.rows.split(",")
    if set(rows) - set(ROWS):
        parser.error(f"--rows takes a comma-separated subset of {', '.join(ROWS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    root = args.out / "data"
    info = H.build_data(root, photos_dir=args.photos, size=args.size, crops_per_photo=2, seed=0)
    n_train = max(info["train_a"], info["train_b"])

    # Seed-major: every row's first seed before any row's second, so an interrupted benchmark
    # has whole rows' worth of comparisons early. Each run's scores are kept beside it.
    per_row: dict[str, dict] = {row: {} for row in rows}
    for seed in seeds:
        for row in rows:
            per_row[row][seed] = scored_run(row, seed=seed, root=root, args=args, n_train=n_train,
                                            test_photos=info["test_photos"])
            print(f"{row} seed {seed}: {per_row[row][seed]}", flush=True)
    results: dict[str, dict] = {"identity (input as output)": {"seeds": {"-": _metrics(H.score(None, root=root))}}}
    for row in rows:
        results[ROWS[row][2]] = {"row": row, "seeds": per_row[row]}
    targets = torch.stack([H.pil_to_tensor(H.read_image(p)) for p in H.list_images(root / "test" / "B")])
    target = H.describe(targets)

    lines = [
        f"| output for A_test ({info['test_photos']} BSD68 crops, {args.size}x{args.size}), {args.steps} iterations, "
        f"seeds {args.seeds} | PSNR (dB) | SSIM | diversity (pixels) | diversity (mean colour) | train s / run "
        "| translate s / image |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, r in results.items():
        runs = list(r["seeds"].values())
        cells = []
        for key, fmt in (("psnr", ".2f"), ("ssim", ".4f"), ("diversity", ".4f"), ("colour_diversity", ".4f")):
            m, sd = mean_sd([x[key] for x in runs])
            cells.append(f"{m:{fmt}} ± {sd:{fmt}}" if len(runs) > 1 else f"{m:{fmt}}")
        for key in ("train_seconds", "translate_seconds_per_image"):
            cells.append(f"{statistics.fmean(x[key] for x in runs):.3g}" if key in runs[0] else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append(f"| true targets stylise(A_test) | - | - | {target['diversity']:.4f} "
                 f"| {target['colour_diversity']:.4f} | - | - |")
    table = "\n".join(lines)
    print(table)
    figure(rows, seed=seeds[0], root=root, args=args, n_train=n_train, targets=targets)
    device = f"CPU ({platform.machine()}, {os.cpu_count()} cores), {args.threads} thread(s)"
    summary = {"table": table, "args": {k: str(v) for k, v in vars(args).items()}, "data": info, "results": results,
               "targets": target, "device": device, "torch": torch.__version__,
               "seconds_total": round(time.perf_counter() - started, 1)}
    (args.out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{device}, torch {torch.__version__}; wrote {args.out / 'results.json'}")


def _metrics(scored: dict) -> dict:
    return {**{k: round(float(scored[k]), 4) for k in ("psnr", "ssim", "diversity", "colour_diversity")},
            "mean_rgb": scored["mean_rgb"]}


if __name__ == "__main__":
    main()
