"""Allowed ranges of numbers users give (config keys, --set, flags), checked where they are parsed.

Each error is one line naming the key or flag, the allowed range and the value given, so a zero
batch size or a NaN learning rate never reaches a traceback deep in training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mosaicgan.errors import UserError


@dataclass(frozen=True)
class Range:
    """low <= value <= high (or low < value with `open_low`); None: unbounded on that side."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def holds(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.open_high else value > self.high))

    def text(self) -> str:
        def num(x: float) -> str:
            return f"{x:g}" if isinstance(x, float) else str(x)

        if self.low is not None and self.high is not None:
            left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
            return f"a number in {left}{num(self.low)}, {num(self.high)}{right}"
        if self.low is not None:
            if self.low == 0 and self.open_low:
                return "a positive number"
            return f"{'greater than' if self.open_low else 'at least'} {num(self.low)}"
        if self.high is not None:
            return f"at most {num(self.high)}"
        return "a finite number"


def at_least(low: float) -> Range:
    return Range(low=low)


POSITIVE = Range(low=0, open_low=True)
NON_NEGATIVE = Range(low=0)
FRACTION = Range(low=0, high=1, open_high=True)  # [0, 1)
BETA = Range(low=0, high=1, open_high=True)
# Far above any useful width (the reference uses 64), far below an allocation that takes the machine down.
WIDTH = Range(low=1, high=1024)

CONFIG_RANGES: dict[str, Range] = {
    "data.load_size": Range(low=1, high=16384),
    "data.crop_size": Range(low=1, high=16384),
    "data.max_items": NON_NEGATIVE,
    "data.num_workers": Range(low=-1, high=256),  # -1: auto
    "data.val_fraction": FRACTION,
    "nets.num_downs": Range(low=1, high=14),
    "nets.n_layers_d": Range(low=0, high=10),
    "nets.ngf": WIDTH,
    "nets.ndf": WIDTH,
    "nets.init_gain": NON_NEGATIVE,
    "nets.in_channels": Range(low=1, high=64),
    "nets.out_channels": Range(low=1, high=64),
    "nets.freeze_features": Range(low=0, high=19),
    "loss.lambda_l1": NON_NEGATIVE,
    "loss.lambda_cycle": NON_NEGATIVE,
    "loss.lambda_identity": NON_NEGATIVE,
    "loss.lambda_gp": NON_NEGATIVE,
    "loss.pool_size": Range(low=0, high=100_000),
    "loss.clip_d": POSITIVE,
    "loss.n_critic": Range(low=1, high=100),
    "loss.lambda_recon": NON_NEGATIVE,
    "loss.lambda_kl": NON_NEGATIVE,
    "nets.z_dim": Range(low=1, high=4096),
    "nets.inversion_steps": Range(low=0, high=100_000),
    "dong.lambda_latent": NON_NEGATIVE,
    "optim.lr": POSITIVE,
    "optim.beta1": BETA,
    "optim.beta2": BETA,
    "optim.epochs": NON_NEGATIVE,
    "optim.epochs_decay": NON_NEGATIVE,
    "optim.batch_size": Range(low=1, high=65536),
    "run.seed": Range(low=-(2**63), high=2**63 - 1),  # what torch.manual_seed takes
    "run.log_every": at_least(1),
    "run.sample_every": at_least(1),
    "run.save_every": at_least(1),
    "run.keep_every_epochs": NON_NEGATIVE,
    "nets.blocks": Range(low=1, high=64),
    "nets.block_scale": Range(low=1, high=32),
    "mosaic.lattice": Range(low=2, high=256),
    "mosaic.block_min": Range(low=2, high=512),
    "mosaic.block_max": Range(low=2, high=512),
    "mosaic.rect_prob": Range(low=0, high=1),
    "mosaic.median_prob": Range(low=0, high=1),
    "mosaic.jpeg_prob": Range(low=0, high=1),
    "mosaic.jpeg_quality_min": Range(low=1, high=100),
    "mosaic.jpeg_quality_max": Range(low=1, high=100),
    "mosaic.full_prob": Range(low=0, high=1),
    "mosaic.grow_prob": Range(low=0, high=1),
    "mosaic.box_prob": Range(low=0, high=1),
    "mosaic.samples_per_epoch": at_least(1),
    "srgan.blocks": Range(low=0, high=64),
    "srgan.width": WIDTH,
    "srgan.patch": Range(low=16, high=1024),
    "srgan.samples_per_epoch": at_least(1),
    "srgan.content_weight": NON_NEGATIVE,
    "srgan.adversarial_weight": NON_NEGATIVE,
    "srgan.mse_weight": NON_NEGATIVE,
    "srgan.ndf": WIDTH,
}


# The same numbers where they come as a network's build arguments (the specs a checkpoint
# stores): every spec read from a file is checked against these before anything is built, so
# a hand-edited `num_downs = 10**9` is one line, not a loop building a billion layers.
SPEC_RANGES: dict[str, Range] = {
    "in_channels": CONFIG_RANGES["nets.in_channels"],
    "out_channels": CONFIG_RANGES["nets.out_channels"],
    "num_downs": CONFIG_RANGES["nets.num_downs"],
    "ngf": WIDTH,
    "ndf": WIDTH,
    "width": WIDTH,
    "neck_channels": WIDTH,
    "n_layers": CONFIG_RANGES["nets.n_layers_d"],
    "n_blocks": CONFIG_RANGES["nets.blocks"],
    "blocks": CONFIG_RANGES["srgan.blocks"],
    "scale": CONFIG_RANGES["nets.block_scale"],
    "num_classes": Range(low=1, high=100_000),
    "width_mult": Range(low=0, high=8, open_low=True),
    "dropout": Range(low=0, high=1),
}


def check_spec(kwargs: dict[str, Any], *, network: str) -> None:
    """A stored network spec's build arguments against SPEC_RANGES: one line naming the network
    and the argument (the caller adds the file)."""
    for name, value in kwargs.items():
        allowed = SPEC_RANGES.get(name)
        if allowed is not None:
            check_number(f"network {network!r}: {name}", value, allowed)


def check_number(name: str, value: Any, allowed: Range) -> None:
    """One line naming `name` (a flag or a config key) when `value` lies outside `allowed`."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if not allowed.holds(value):
        raise UserError(f"{name} must be {allowed.text()}, got {value!r}")


def check_config_value(key: str, value: Any, *, name: str | None = None) -> None:
    """A config key's value against its range; `name` is what the user typed (a flag), if not the key."""
    allowed = CONFIG_RANGES.get(key)
    if allowed is not None:
        check_number(name or key, value, allowed)


def check_config(config: Any) -> None:
    """What single values cannot show: combinations of keys that would train nothing or not as asked."""
    optim, data = config.optim, config.data
    if optim.epochs + optim.epochs_decay < 1:
        raise UserError(f"optim.epochs + optim.epochs_decay (--epochs, --epochs-decay) must be at least 1, "
                        f"got {optim.epochs} + {optim.epochs_decay}")
    if data.preprocess in ("resize_and_crop", "scale_width_and_crop") and data.crop_size > data.load_size:
        raise UserError(
            f"data.crop_size (--crop-size {data.crop_size}) is larger than data.load_size (--load-size "
            f"{data.load_size}): with preprocess {data.preprocess!r} images are resized to load_size first, "
            "then cropped; give crop_size <= load_size")
