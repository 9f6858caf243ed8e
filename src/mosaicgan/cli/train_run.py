"""What every `mosaicgan train MODEL` shares: the run flags, building the config from defaults,
a TOML file and flags (or reading a run folder's back for --resume), and running the loop.

train_cmd.py (the GAN trainers) and train_classifier_cmd.py both import this module; neither
imports the other's flags.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from mosaicgan import choices
from mosaicgan.cli.common import add_device_flag
from mosaicgan.errors import UserError, printable

# flag -> config key; flags left unset do not override the config file.
FLAG_KEYS = {
    "data": "data.root",
    "epochs": "optim.epochs",
    "epochs_decay": "optim.epochs_decay",
    "batch_size": "optim.batch_size",
    "lr": "optim.lr",
    "load_size": "data.load_size",
    "crop_size": "data.crop_size",
    "preprocess": "data.preprocess",
    "net_g": "nets.net_g",
    "net_d": "nets.net_d",
    "gan_mode": "loss.gan_mode",
    "direction": "data.direction",
    "workers": "data.num_workers",
    "seed": "run.seed",
    "device": "run.device",
    "precision": "run.precision",
    "channels_last": "run.channels_last",
    "compile": "run.compile",
    "init_from": "run.init_from",
    "scale": "srgan.scale",
}


def add_run_flags(p: argparse.ArgumentParser, *, data_help: str, set_example: str,
                  data_nargs: str | None = None) -> None:
    """Flags every trainer shares: where the data and the run are, config overrides, and run control."""
    p.add_argument("--data", metavar="DIR", nargs=data_nargs, help=data_help)
    p.add_argument("--out", metavar="RUN_DIR", type=Path,
                   help="run folder to create (checkpoints, log.jsonl; GANs: sample grids)")
    p.add_argument("--resume", metavar="RUN_DIR", type=Path,
                   help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--config", metavar="FILE.toml", type=Path, help="a TOML config (see configs/)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help=f"override any config key, e.g. --set {set_example} (repeatable)")
    p.add_argument("--workers", type=int,
                   help="data loader processes (-1, the default: one fewer than the CPUs, at most 4)")
    p.add_argument("--seed", type=int)
    add_device_flag(p)
    p.add_argument("--precision", choices=choices.PRECISIONS,
                   help="arithmetic of each step: auto (the default: bf16 where the device runs it natively, "
                        "i.e. CPUs with AVX512-BF16 or AMX and GPUs from Ampere on, else fp32; the choice is printed "
                        "and kept in the run's config.toml), fp32, bf16 autocast, fp16 autocast with loss scaling "
                        "(GPUs without bf16)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory layout for the networks and batches (the default for the GAN trainers)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the networks (the first step compiles, for minutes; the CPU needs g++)")
    p.add_argument("--init-from", metavar="CKPT",
                   help="start from the networks of this checkpoint (file or run folder) of the same model: "
                        "fine-tuning or a next stage; optimizer and schedule start afresh")
    p.add_argument("--stop-after", type=int, metavar="N",
                   help="stop after N iterations in total, with a checkpoint (continue later with --resume)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_schedule_flags(p: argparse.ArgumentParser, *, model: str, lr_note: str = "") -> None:
    """--epochs, --epochs-decay, --batch-size and --lr, their help giving the model's defaults
    (read from its config, so help and config cannot disagree)."""
    from mosaicgan.config import default_config

    o = default_config(model).optim
    lr = f"{o.lr:.0e}".replace("e-0", "e-")
    p.add_argument("--epochs", type=int, help=f"epochs at the initial learning rate (default {o.epochs})")
    p.add_argument("--epochs-decay", type=int, help=f"epochs of linear decay that follow (default {o.epochs_decay})")
    p.add_argument("--batch-size", type=int, help=f"default {o.batch_size}")
    p.add_argument("--lr", type=float, help=f"Adam learning rate (default {lr}{lr_note})")


def config_from_args(args: argparse.Namespace):
    from mosaicgan.config import check_model_keys, default_config, load_toml, parse_set, with_values
    from mosaicgan.validate import check_config_value

    if isinstance(args.data, list):  # trainers that read several photo folders (data_nargs="+")
        args.data = os.pathsep.join(str(d) for d in args.data)
    config = load_toml(args.config, base=default_config(args.model)) if args.config else default_config(args.model)
    if config.model != args.model:
        raise UserError(f"config is for {config.model}, not {args.model}", path=args.config)
    # getattr with a default: a model's parser may offer only some of the flags.
    flags = {key: getattr(args, name) for name, key in FLAG_KEYS.items() if getattr(args, name, None) is not None}
    for name, key in FLAG_KEYS.items():  # named as typed; --set and the config file are checked by key
        check_config_value(key, flags.get(key), name=f"--{name.replace('_', '-')}")
    config = with_values(config, flags)
    config = with_values(config, parse_set(args.set))
    check_model_keys(config)
    if not config.data.root:
        raise UserError("no data: give --data DIR (or data.root in the config)")
    return config


def resume_config(args: argparse.Namespace):
    from mosaicgan.config import load_toml, with_values

    run_dir = args.resume
    if not (run_dir / "config.toml").is_file():
        raise UserError("not a run folder (no config.toml)", path=run_dir)
    allowed = {"device", "compile", "channels_last"}  # change no result beyond rounding
    given = [name for name in FLAG_KEYS if name not in allowed and getattr(args, name, None) is not None]
    if given or args.set or args.config or args.out:
        raise UserError("--resume continues a run with its own config.toml; only --device, --compile, "
                        "--channels-last and --stop-after may be given")
    config = load_toml(run_dir / "config.toml")
    if config.model != args.model:
        raise UserError(f"this run trains {config.model}, not {args.model}", path=run_dir)
    changes = {FLAG_KEYS[name]: getattr(args, name) for name in sorted(allowed)
               if getattr(args, name, None) is not None}
    return with_values(config, changes)


def run(args: argparse.Namespace) -> int:
    from mosaicgan.atomic import check_writable_dir
    from mosaicgan.ranks import ranks_from_env
    from mosaicgan.train.loop import train

    if args.stop_after is not None and args.stop_after < 1:
        raise UserError(f"--stop-after must be at least 1, got {args.stop_after}")
    if args.resume:
        config = resume_config(args)
        run_dir = args.resume
    else:
        if args.out is None:
            raise UserError("give --out RUN_DIR (or --resume RUN_DIR)")
        check_writable_dir(args.out)
        config = config_from_args(args)
        run_dir = args.out
        if (run_dir / "checkpoints" / "resume.pt").exists():
            raise UserError("already holds a run; continue it with --resume, or choose another --out", path=run_dir)
    result = train(config, run_dir=run_dir, resume=bool(args.resume), stop_after=args.stop_after,
                   progress=not args.quiet)
    if result.finished:
        state = "finished"
    elif result.stopped_by:
        state = f"stopped by {result.stopped_by} (continue with --resume {printable(run_dir)})"
    else:
        state = f"stopped (continue with --resume {printable(run_dir)})"
    if ranks_from_env().main:  # under torchrun, one summary (rank 0 wrote the run)
        print(f"{config.model}: {state} at iteration {result.step}, epoch {result.epoch}, "
              f"{result.seconds:.1f} s; checkpoint: {printable(run_dir / 'checkpoints' / 'latest.safetensors')}")
    # Like a shell's status for a process a signal ended (130 for Ctrl-C), so scripts can tell.
    return 128 + signal.Signals[result.stopped_by].value if result.stopped_by else 0
