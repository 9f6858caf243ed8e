"""What every trainable model offers the loop, and helpers shared by the GAN tasks."""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

from mosaicgan.config import DataConfig, NetsConfig, TrainConfig
from mosaicgan.data.preprocess import output_size
from mosaicgan.errors import UserError
from mosaicgan.nets import get_net


class Task(Protocol):
    kind: str  # stored in checkpoints: "pix2pix", "cyclegan", ...

    def nets(self) -> dict[str, nn.Module]: ...

    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One optimisation step on a batch already on the device; returns the losses."""

    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """Columns for the sample grid (each (N, C, H, W) in [-1, 1])."""

    def extra_state(self) -> dict[str, Any]: ...

    def load_extra_state(self, state: dict[str, Any]) -> None: ...

    # Optional, looked up with getattr by the loop:
    #   owns_init = True       the task's networks come initialised (pretrained): no init_weights
    #   evaluate() -> dict      held-out metrics, logged at each epoch end
    #   checkpoint_extra() -> dict   stored in every checkpoint's extra (a classifier's labels)


def generator_from_config(nets: NetsConfig, *, in_channels: int, out_channels: int) -> nn.Module:
    kwargs: dict[str, Any] = {"in_channels": in_channels, "out_channels": out_channels,
                              "ngf": nets.ngf, "norm": nets.norm, "dropout": nets.dropout,
                              "upsample": nets.upsample}
    if nets.net_g == "unet":
        kwargs["num_downs"] = nets.num_downs
    elif nets.num_downs != 8:
        raise UserError(f"nets.num_downs applies to net_g='unet' only; {nets.net_g!r} fixes its own depth")
    if nets.global_skip:  # passed only when on, so the specs of other generators stay as they were
        if not nets.net_g.startswith("resnet_"):
            raise UserError(f"nets.global_skip applies to the resnet_* generators only, not {nets.net_g!r}")
        if in_channels != out_channels:
            raise UserError(f"nets.global_skip adds the input to the output: it needs as many input channels as "
                            f"output channels, not {in_channels} and {out_channels}")
        kwargs["global_skip"] = True
    return get_net(nets.net_g, kind="generator", **kwargs)


def generator_size_multiple(nets: NetsConfig, *, in_channels: int, out_channels: int) -> int:
    """What the generator needs image sides to be multiples of (U-Net: 2**levels, ResNet: 4)."""
    with torch.device("meta"):  # builds the network without allocating its weights
        return generator_from_config(nets, in_channels=in_channels, out_channels=out_channels).size_multiple


def discriminator_from_config(nets: NetsConfig, *, in_channels: int) -> nn.Module:
    kwargs: dict[str, Any] = {"in_channels": in_channels, "ndf": nets.ndf, "norm": nets.norm}
    if nets.net_d == "patchgan":
        kwargs["n_layers"] = nets.n_layers_d
    elif nets.n_layers_d != 3:
        raise UserError(f"nets.n_layers_d applies to net_d='patchgan' only; {nets.net_d!r} fixes its own depth")
    return get_net(nets.net_d, kind="discriminator", **kwargs)


def adam(params, config: TrainConfig) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=config.optim.lr, betas=(config.optim.beta1, config.optim.beta2))


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    # Freezing D during G's step saves computing gradients nobody uses.
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def check_sizes(sizes: list[tuple[int, int]], *, batch_size: int, data: DataConfig, multiple: int) -> None:
    """Training images must fit the generator, and those in one batch must share a size."""
    out = {output_size(s, preprocess=data.preprocess, load_size=data.load_size, crop_size=data.crop_size)
           for s in sizes}
    bad = sorted(wh for wh in out if wh[0] % multiple or wh[1] % multiple)
    if bad:
        raise UserError(
            f"the generator needs sides that are multiples of {multiple}, but preprocessing gives "
            f"{bad[0][0]}x{bad[0][1]} images; change data.crop_size/load_size or the generator"
        )
    if batch_size > 1 and len(out) > 1:
        raise UserError(
            f"with preprocess {data.preprocess!r} the images keep different sizes ({len(out)} of them), "
            "so batch_size must be 1 (or use a cropping preprocess)"
        )
