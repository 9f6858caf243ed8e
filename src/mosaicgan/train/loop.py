"""The training loop, read top to bottom. Every model plugs in as a Task (see task.py).

A run folder holds: config.toml, log.jsonl, samples/*.png, checkpoints/latest.safetensors
(the model, for translate/eval), checkpoints/epoch_NNN.safetensors, checkpoints/resume.pt
(weights + optimizer + RNG + counters, for --resume).
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from mosaicgan import __version__
from mosaicgan.checkpoint import LATEST, load_train_state, save_checkpoint, save_train_state
from mosaicgan.config import TrainConfig, save_toml, to_dict
from mosaicgan.data.images import image_grid, save_image
from mosaicgan.data.sampler import EpochSampler
from mosaicgan.device import resolve_device
from mosaicgan.errors import UserError
from mosaicgan.nets import init_weights
from mosaicgan.train.logging import MetricLog, RunningMeans
from mosaicgan.train.tasks import TASKS


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    finished: bool
    seconds: float  # training time in total, over every session of a resumed run


def lr_factor(epoch: int, *, epochs: int, epochs_decay: int) -> float:
    """Constant for `epochs`, then linear to zero over `epochs_decay` (the reference rule:
    the last decay epoch runs at 1/(epochs_decay+1) of the initial rate, never at zero)."""
    return 1.0 - max(0, epoch + 1 - epochs) / float(epochs_decay + 1)


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def train(
    config: TrainConfig,
    *,
    run_dir: str | Path,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train `config.model` into `run_dir`; with `resume`, continue from its resume state.

    `stop_after` ends the run after that many iterations in total (a checkpoint is written),
    for time-boxed sessions; `--resume` later ends exactly where one long run would.
    """
    run_dir = Path(run_dir)
    ckpt_dir = run_dir / "checkpoints"
    device = resolve_device(config.run.device)
    task_class, dataset_builder = TASKS[config.model]
    dataset = dataset_builder(config)

    # Seed before building: weight init and dropout draw from the global generator.
    torch.manual_seed(config.run.seed)
    task = task_class(config)
    for net in task.nets().values():
        if not getattr(task, "owns_init", False):  # fine-tuning tasks start from loaded weights
            init_weights(net, scheme=config.nets.init, gain=config.nets.init_gain)
        net.to(device).train()
    for opt in task.optimizers().values():  # optimizers were made before .to(device)
        opt.state.clear()

    batch_size = config.optim.batch_size
    iters_per_epoch = math.ceil(len(dataset) / batch_size)
    total_epochs = config.optim.epochs + config.optim.epochs_decay
    step, epoch, done_in_epoch = 0, 0, 0
    seconds_before = 0.0  # time spent in earlier sessions, so logged times run on after a resume

    if resume:
        state = load_train_state(ckpt_dir / "resume.pt")
        for key, net in task.nets().items():
            net.load_state_dict(state["nets"][key])
        for key, opt in task.optimizers().items():
            opt.load_state_dict(state["optimizers"][key])
        task.load_extra_state(state["extra"])
        torch.set_rng_state(state["rng_cpu"])
        if device.type == "cuda" and state.get("rng_cuda"):
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        step, epoch, done_in_epoch = state["step"], state["epoch"], state["done_in_epoch"]
        seconds_before = float(state.get("seconds", 0.0))  # absent in resume states from older versions
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_toml(config, run_dir / "config.toml")

    def save(*, keep_epoch: bool = False) -> None:
        nets = task.nets()
        save_train_state(ckpt_dir / "resume.pt", {
            "nets": {k: n.state_dict() for k, n in nets.items()},
            "optimizers": {k: o.state_dict() for k, o in task.optimizers().items()},
            "extra": task.extra_state(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
            "step": step, "epoch": epoch, "done_in_epoch": done_in_epoch,
            "seconds": time.perf_counter() - started,
        })
        # Tasks may add what their inference needs (a classifier's labels).
        extra = {**task_extra(), "step": step, "epoch": epoch, "mosaicgan_version": __version__}
        latest = save_checkpoint(ckpt_dir / LATEST, kind=task.kind, nets=nets, config=to_dict(config), extra=extra)
        if keep_epoch:
            shutil.copyfile(latest, ckpt_dir / f"epoch_{epoch:03d}.safetensors")

    task_extra = getattr(task, "checkpoint_extra", dict)
    evaluate = getattr(task, "evaluate", None)  # optional: held-out metrics at each epoch end
    log = MetricLog(run_dir)
    if resume:
        log.drop_after(step)
    means = RunningMeans()
    started = time.perf_counter() - seconds_before
    # disable=None: no bar when stderr is not a terminal (the JSONL log has the figures).
    bar = tqdm(total=total_epochs * iters_per_epoch, initial=step, disable=None if progress else True,
               unit="it", dynamic_ncols=True, desc=config.model)
    try:
        while epoch < total_epochs:
            if stop_after is not None and step >= stop_after:  # e.g. resumed with the same --stop-after
                return TrainResult(run_dir, step, epoch, False, time.perf_counter() - started)
            lr = config.optim.lr * lr_factor(epoch, epochs=config.optim.epochs, epochs_decay=config.optim.epochs_decay)
            for opt in task.optimizers().values():
                for group in opt.param_groups:
                    group["lr"] = lr
            sampler = EpochSampler(size=len(dataset), seed=config.run.seed, epoch=epoch, start=done_in_epoch * batch_size)
            loader = DataLoader(
                dataset, batch_size=batch_size, sampler=sampler, num_workers=config.data.num_workers,
                pin_memory=device.type == "cuda",
                # Its own generator: the loader must not draw from the global RNG, or a
                # resumed run (which builds one loader more) would see different dropout.
                generator=torch.Generator().manual_seed(config.run.seed),
            )
            for batch in loader:
                losses = task.step(to_device(batch, device))
                step += 1
                done_in_epoch += 1
                means.update(losses)
                bar.update(1)
                if step % config.run.log_every == 0:
                    record = {"step": step, "epoch": epoch + 1, "lr": lr, **means.pop(),
                              "time": round(time.perf_counter() - started, 3)}
                    log.write(record)
                    bar.set_postfix({k[5:] if k.startswith("loss_") else k: f"{v:.3g}"
                                     for k, v in record.items() if k.startswith("loss_")})
                if step % config.run.sample_every == 0:
                    save_image(image_grid(task.visuals(batch)), run_dir / "samples" / f"step_{step:07d}.png")
                if step % config.run.save_every == 0:
                    save()
                if stop_after is not None and step >= stop_after:
                    save()
                    return TrainResult(run_dir, step, epoch, False, time.perf_counter() - started)
            epoch += 1
            done_in_epoch = 0
            if evaluate is not None:
                held_out = evaluate()
                if held_out:
                    log.write({"step": step, "epoch": epoch, **held_out})
                    bar.set_postfix({k: f"{v:.3g}" for k, v in held_out.items()})
            keep = config.run.keep_every_epochs
            save(keep_epoch=bool(keep) and (epoch % keep == 0 or epoch == total_epochs))
    finally:
        bar.close()
        log.close()
    return TrainResult(run_dir, step, epoch, True, time.perf_counter() - started)
