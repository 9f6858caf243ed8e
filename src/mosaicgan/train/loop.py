"""The training loop, read top to bottom. Every model plugs in as a Task (see task.py).

A run folder holds: config.toml, log.jsonl, samples/*.png, checkpoints/latest.safetensors
(the model, for translate/eval), checkpoints/epoch_NNN.safetensors, checkpoints/resume.pt
(weights + optimizer + RNG + counters, for --resume).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from torch.utils.data import DataLoader
from tqdm import tqdm

from mosaicgan import __version__
from mosaicgan.atomic import atomic_path, writing
from mosaicgan.checkpoint import LATEST, load_train_state, save_checkpoint, save_train_state
from mosaicgan.config import TrainConfig, default_config, save_toml, to_dict, with_values
from mosaicgan.data.images import image_grid, save_image
from mosaicgan.data.sampler import EpochBatches, derive_seed
from mosaicgan.device import resolve_device
from mosaicgan.errors import UserError
from mosaicgan.models import MODELS
from mosaicgan.nets import init_weights
from mosaicgan.nets.gemm_convs import use_gemm_for_small_maps
from mosaicgan.progress import progress_bar
from mosaicgan.ranks import ranks_from_env
from mosaicgan.train import distributed
from mosaicgan.train.branches import plan_branches
from mosaicgan.train.init_from import init_from_checkpoint
from mosaicgan.train.levers import (
    check_compiler,
    compile_nets,
    keep_freed_memory,
    loader_workers,
    to_device,
    tune_optimizers,
)
from mosaicgan.train.logging import MetricLog, RunningMeans
from mosaicgan.train.precision import Precision, resolve_precision
from mosaicgan.train.resume_state import check_config_unchanged, restore
from mosaicgan.train.run_folder import RunLock, remove_temporaries
from mosaicgan.train.stop_signals import StopSignals
from mosaicgan.train.sync_norm import sync_batch_norm
from mosaicgan.train.tasks import TASKS
from mosaicgan.validate import check_config


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    finished: bool
    seconds: float  # training time in total, over every session of a resumed run
    stopped_by: str | None = None  # "SIGINT" / "SIGTERM" when a signal ended it (after a save)


def lr_factor(epoch: int, *, epochs: int, epochs_decay: int) -> float:
    """Constant for `epochs`, then linear to zero over `epochs_decay` (the reference rule:
    the last decay epoch runs at 1/(epochs_decay+1) of the initial rate, never at zero)."""
    return 1.0 - max(0, epoch + 1 - epochs) / float(epochs_decay + 1)


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
    for time-boxed sessions; `--resume` later ends exactly where one long run would. So does
    a first Ctrl-C or SIGTERM (`TrainResult.stopped_by` names it). One process at a time
    trains in a run folder.
    """
    if stop_after is not None and stop_after < 1:
        raise UserError(f"--stop-after must be at least 1, got {stop_after}")
    check_config(config)
    with contextlib.ExitStack() as stack:
        return _train(config, run_dir=Path(run_dir), resume=resume, stop_after=stop_after, progress=progress,
                      stack=stack)


def _train(
    config: TrainConfig,
    *,
    run_dir: Path,
    resume: bool,
    stop_after: int | None,
    progress: bool,
    stack: contextlib.ExitStack,
) -> TrainResult:
    ckpt_dir = run_dir / "checkpoints"
    ranks = ranks_from_env()
    batch_size = config.optim.batch_size  # the global batch: each of `world` processes takes a share
    if ranks.world > batch_size:
        raise UserError(f"optim.batch_size ({batch_size}) is the batch of all {ranks.world} processes together; "
                        f"make it at least {ranks.world}")
    device = resolve_device(config.run.device)
    if config.run.compile:
        check_compiler(device)
    task_class, dataset_builder = TASKS[config.model]
    dataset = dataset_builder(config)
    device = distributed.start(ranks, device=device)
    stack.callback(distributed.stop, ranks)
    main = ranks.main
    # "auto" is decided here, once, and the run's config.toml gets the result: a resume (which
    # reads that file) keeps what the run started with, on whatever machine it continues.
    chosen, why = resolve_precision(config.run.precision, device)
    config = with_values(config, {"run.precision": chosen})
    if progress and main:
        tqdm.write(why)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest kernels once
    if device.type == "cpu" and config.run.keep_freed_memory:
        keep_freed_memory()

    # Seed before building: weight init and dropout draw from the global generator.
    torch.manual_seed(config.run.seed)
    task = task_class(config)
    for net in task.nets().values():
        if not getattr(task, "owns_init", False):  # fine-tuning tasks start from loaded weights
            init_weights(net, scheme=config.nets.init, gain=config.nets.init_gain)
    if config.run.init_from and not resume:  # a resumed run has its own weights in resume.pt
        init_from_checkpoint(task.nets(), config.run.init_from, model=config.model)
    for net in task.nets().values():
        if ranks.active:
            sync_batch_norm(net, device=device)  # statistics of the global batch, not of a share
        net.to(device).train()
        if config.run.channels_last:
            net.to(memory_format=torch.channels_last)
        if device.type == "cpu" and config.run.small_map_gemm:
            use_gemm_for_small_maps(net)  # same parameters and state-dict keys; the optimizers keep them
    for opt in task.optimizers().values():  # optimizers were made before .to(device)
        opt.state.clear()
    if ranks.rank > 0:
        # Every rank built the same weights above; from here on each draws its own dropout
        # (rank 0 keeps the single-process stream).
        torch.manual_seed(derive_seed(config.run.seed, "rank", ranks.rank))
    precision = Precision(config.run.precision, device=device)
    if ranks.active:
        precision.process_group = torch.distributed.group.WORLD
    task.precision = precision
    if hasattr(task, "branches"):  # tasks whose step has two independent parts (train/branches.py)
        task.branches = plan_branches(nets=task.nets().values(), device=device, precision=precision.name,
                                      compiled=config.run.compile, enabled=config.run.branches)
        stack.callback(task.branches.close)
        if task.branches.side_by_side and progress and main:
            tqdm.write(f"branches: each step's two halves side by side, {task.branches.threads} thread(s) each "
                       "(run.branches)")

    # Bad input is reported above, before the run folder is touched.
    if main:
        if not resume:
            with writing(run_dir / "config.toml"):
                run_dir.mkdir(parents=True, exist_ok=True)
        stack.enter_context(RunLock(run_dir))
        if not resume and (ckpt_dir / "resume.pt").exists():  # checked again now that the folder is ours
            raise UserError("already holds a run; continue it with --resume, or choose another --out", path=run_dir)
        remove_temporaries(run_dir)
    if config.data.decode_cache and MODELS[config.model].reads("data.decode_cache"):
        # Only now that the folder is ours (its lock held); other ranks open what rank 0 made.
        if main:
            cache = dataset.use_decode_cache(run_dir / "cache")
            if progress:  # the disk it takes should not come as a surprise
                tqdm.write(f"decode cache: {len(cache)} images, {cache.nbytes / 1e6:.0f} MB in {cache.path}" if cache
                           else "decode cache: not made (it would take over half the free disk space); "
                                "decoding each sample instead")
        distributed.wait_long(ranks)
        if not main:
            dataset.use_decode_cache(run_dir / "cache", build=False)
    signals = stack.enter_context(StopSignals())

    iters_per_epoch = math.ceil(len(dataset) / batch_size)
    total_epochs = config.optim.epochs + config.optim.epochs_decay
    keep = config.run.keep_every_epochs
    step, epoch, done_in_epoch = 0, 0, 0
    seconds_before = 0.0  # time spent in earlier sessions, so logged times run on after a resume
    task_extra = getattr(task, "checkpoint_extra", dict)

    def keeps_epoch(n: int) -> bool:
        return bool(keep) and n > 0 and (n % keep == 0 or n == total_epochs)

    def save_model(path: Path) -> Path:
        # Tasks may add what their inference needs (a classifier's labels).
        extra = {**task_extra(), "step": step, "epoch": epoch, "mosaicgan_version": __version__}
        return save_checkpoint(path, kind=task.kind, nets=task.nets(), config=to_dict(config), extra=extra)

    def rank_state() -> dict:
        return {"rng_cpu": torch.get_rng_state(), "extra": task.extra_state(),
                "rng_cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else []}

    def save(*, keep_epoch: bool = False) -> None:
        # Every rank takes part (its RNG and task state, e.g. CycleGAN's pools, differ); rank 0 writes.
        per_rank = distributed.gather(rank_state(), ranks=ranks)
        if not main:
            return
        nets = task.nets()
        save_train_state(ckpt_dir / "resume.pt", {
            "kind": task.kind,
            "config": to_dict(config),
            "nets": {k: n.state_dict() for k, n in nets.items()},
            "optimizers": {k: o.state_dict() for k, o in task.optimizers().items()},
            **per_rank[0],
            "ranks": per_rank if ranks.active else [],
            "precision": precision.state_dict(),
            "step": step, "epoch": epoch, "done_in_epoch": done_in_epoch,
            "seconds": time.perf_counter() - started,
        })
        # A kill between these writes leaves them behind resume.pt; resume rewrites them.
        latest = save_model(ckpt_dir / LATEST)
        if keep_epoch:
            with atomic_path(ckpt_dir / f"epoch_{epoch:03d}.safetensors") as tmp:
                shutil.copyfile(latest, tmp)

    log = MetricLog(run_dir) if main else None
    if resume:
        state_path = ckpt_dir / "resume.pt"
        state = load_train_state(state_path)
        check_config_unchanged(state.get("config"), to_dict(config), path=run_dir / "config.toml",
                               defaults=to_dict(default_config(config.model)))
        # A run resumed with as many processes as it saved gives each rank its own RNG and task state.
        saved_ranks = state.get("ranks") or []
        if len(saved_ranks) == ranks.world:
            state = {**state, **saved_ranks[ranks.rank]}
        restore(task, state, path=state_path)
        precision.load_state_dict(state.get("precision") or {})
        torch.set_rng_state(state["rng_cpu"])
        if device.type == "cuda" and state.get("rng_cuda"):
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        step, epoch, done_in_epoch = state["step"], state["epoch"], state["done_in_epoch"]
        seconds_before = float(state.get("seconds", 0.0))  # absent in resume states from older versions
        if main:
            log.drop_after(step)
            # The model files written after resume.pt by the last save: rewrite any that a kill
            # left missing, damaged or stale (the networks now hold exactly the saved weights).
            if not checkpoint_at_step(ckpt_dir / LATEST, step):
                save_model(ckpt_dir / LATEST)
            snapshot = ckpt_dir / f"epoch_{epoch:03d}.safetensors"
            if done_in_epoch == 0 and keeps_epoch(epoch) and not checkpoint_at_step(snapshot, step):
                save_model(snapshot)
    elif main:
        save_toml(config, run_dir / "config.toml")
        log.reset()  # steps logged by an earlier start that died before its first checkpoint
    tune_optimizers(task.optimizers(), device)
    if config.run.compile:
        compile_nets(task.nets())

    evaluate = getattr(task, "evaluate", None)  # optional: held-out metrics at each epoch end
    means = RunningMeans()
    started = time.perf_counter() - seconds_before

    def stopped() -> TrainResult:
        return TrainResult(run_dir, step, epoch, False, time.perf_counter() - started,
                           stopped_by=signal.Signals(signals.signum).name if signals.requested else None)

    def stop_requested() -> bool:
        return distributed.any_rank(signals.requested, ranks=ranks, device=device)

    # One loader for the whole run, so its worker processes persist; the batch sampler is told
    # each epoch (and where in it a resumed run starts).
    batches = EpochBatches(size=len(dataset), batch_size=batch_size, seed=config.run.seed,
                           rank=ranks.rank, world=ranks.world)
    # GAN images cross from the loader to the device as uint8 and become floats there: a quarter
    # of the bytes through the workers' shared memory and pinned buffers, and no float work in
    # the workers (a sample from the decode cache is then a crop and flip of a stored array).
    uint8_keys = getattr(dataset, "IMAGE_KEYS", ())
    if uint8_keys:
        dataset.as_uint8 = True
    workers = loader_workers(config.data.num_workers)
    loader = DataLoader(
        dataset, batch_sampler=batches, num_workers=workers, persistent_workers=workers > 0,
        pin_memory=device.type == "cuda",
        # Its own generator: the loader must not draw from the global RNG, or a
        # resumed run (which builds one loader more) would see different dropout.
        generator=torch.Generator().manual_seed(config.run.seed),
    )
    # A bar on a terminal; a line every few seconds in a log (nohup, CI), so a run is not silent.
    bar = progress_bar(total_epochs * iters_per_epoch, initial=step, quiet=not (progress and main), unit="it",
                       desc=config.model)
    first_step_seconds: float | None = None
    compile_logged = False
    try:
        while epoch < total_epochs:
            if stop_after is not None and step >= stop_after:  # e.g. resumed with the same --stop-after
                return stopped()
            lr = config.optim.lr * lr_factor(epoch, epochs=config.optim.epochs, epochs_decay=config.optim.epochs_decay)
            for opt in task.optimizers().values():
                for group in opt.param_groups:
                    group["lr"] = lr
            batches.set_epoch(epoch, start_batch=done_in_epoch)
            for batch in loader:
                tick = time.perf_counter()
                with precision.autocast():
                    losses = task.step(to_device(batch, device, channels_last=config.run.channels_last,
                                                 uint8_keys=uint8_keys))
                step += 1
                done_in_epoch += 1
                means.update(losses)
                bar.update(1)
                if first_step_seconds is None:
                    # The first step of a session includes torch.compile's compilation (and warm-up).
                    first_step_seconds = time.perf_counter() - tick
                    if config.run.compile and main:
                        bar.write(f"first step (compiling) took {first_step_seconds:.1f} s")
                if step % config.run.log_every == 0:
                    values = means.pop(average=ranks.active)
                    if main:
                        record = {"step": step, "epoch": epoch + 1, "lr": lr, **values,
                                  "time": round(time.perf_counter() - started, 3)}
                        if config.run.compile and not compile_logged:
                            record["first_step_seconds"] = round(first_step_seconds, 3)  # once per session
                            compile_logged = True
                        log.write(record)
                        bar.set_postfix({k[5:] if k.startswith("loss_") else k: f"{v:.3g}"
                                         for k, v in record.items() if k.startswith("loss_")})
                if main and step % config.run.sample_every == 0:
                    grid = image_grid(task.visuals(batch))
                    save_image(grid, run_dir / "samples" / f"step_{step:07d}.png")
                    log.image("samples", grid, step)
                if step % config.run.save_every == 0:
                    save()
                if (stop_after is not None and step >= stop_after) or stop_requested():
                    if done_in_epoch < iters_per_epoch:  # at an epoch's end, its own save follows
                        if step % config.run.save_every:  # not saved just above
                            save()
                        return stopped()
                    break
            epoch += 1
            done_in_epoch = 0
            if evaluate is not None:
                held_out = evaluate()
                if held_out and main:
                    log.write({"step": step, "epoch": epoch, **held_out})
                    bar.set_postfix({k: f"{v:.3g}" for k, v in held_out.items()})
            save(keep_epoch=keeps_epoch(epoch))
            if (stop_after is not None and step >= stop_after) or stop_requested():
                if epoch < total_epochs:
                    return stopped()
    finally:
        bar.close()
        if log is not None:
            log.close()
    return TrainResult(run_dir, step, epoch, True, time.perf_counter() - started)


def checkpoint_at_step(path: Path, step: int) -> bool:
    """Whether `path` is a whole, readable checkpoint saved at iteration `step`."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            for key in f.keys():  # reads each tensor: a truncated file fails here
                f.get_slice(key)
        return json.loads(meta.get("extra", "{}")).get("step") == step
    except Exception:  # noqa: BLE001  (missing, truncated, foreign: all mean "write it again")
        return False
