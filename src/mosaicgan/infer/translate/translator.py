"""A trained generator as a function on frames of any size: the per-frame core of `translate`
and `eval` (`Translator(batch)`, or `translate_image(frame, translator=...)` for one frame).
The generator comes from a checkpoint (which one per direction: `mosaicgan.models`).

Memory stays bounded at any image size: a batch too large for the free memory runs in smaller
batches, and an image too large on its own runs in overlapping tiles (`infer.tile_plan`,
`ops.tiles`). Tiles sit on the network's stride grid (the image is padded to the network's size
multiple first, tiles and overlaps are multiples of it), so a network that sees no further than
a quarter of the overlap gives the whole-image output exactly. A U-Net sees further: each tile
is generated with the context of that tile only, and instance norm normalises by each tile's
statistics, so tiled outputs differ from whole-image ones (README, "Large images").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.checkpoint import Checkpoint, load_checkpoint
from mosaicgan.errors import UserError
from mosaicgan.infer.translate.tile_plan import (
    GENEROUS_BYTES_PER_PIXEL,
    MEMORY_SHARE,
    RunPlan,
    activation_bytes_per_pixel,
    autocast,
    available_bytes,
    check_precision,
    default_overlap,
    plan_run,
    resolve_precision,
)
from mosaicgan.models import MODELS
from mosaicgan.nets.two_way import one_way
from mosaicgan.nets.unet import UNetGenerator
from mosaicgan.ops.tiles import run_tiled


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad (N, C, H, W) on all sides so H and W are multiples of `multiple`.

    Returns the padded tensor and the (top, left, height, width) box of the original. Reflection
    (no artificial edge) where the image is large enough, else edge replication.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (0, 0, h, w)
    top, left = ph // 2, pw // 2
    pad = (left, pw - left, top, ph - top)
    mode = "reflect" if max(pad[0], pad[1]) < w and max(pad[2], pad[3]) < h else "replicate"
    return F.pad(x, pad, mode=mode), (top, left, h, w)


@dataclass
class Translator:
    net: nn.Module
    in_channels: int
    out_channels: int
    multiple: int
    device: torch.device
    stochastic: bool  # dropout kept on at test time: outputs differ per call
    precision: str = "auto"  # auto (bf16 where native, else fp32) | fp32 | bf16 | fp16 (autocast; fp16 on CUDA only)
    tile: int | None = None  # None: chosen from the free memory; 0: whole images; N: tiles of N pixels
    overlap: int | None = None  # None: a quarter of the tile, on the stride grid
    memory_budget: int | None = None  # bytes a forward may plan to use; None: half the free memory
    channels_last: bool | None = None  # None: for U-Nets only (see __post_init__)
    _bytes_per_pixel: float | None = field(default=None, init=False, repr=False)  # measured once, when needed

    def __post_init__(self) -> None:
        check_precision(self.precision, self.device)
        self.precision = resolve_precision(self.precision, self.device)
        check_tiling(self.tile, self.overlap, multiple=self.multiple)
        if self.channels_last is None:
            # Measured on a CPU (benchmarks/infer_speed.py): NHWC makes unet_256 ~1.3x faster in fp32
            # and more in bf16, outputs equal to 1e-6; the ResNet generator gains nothing (its
            # reflection padding), so it keeps the default layout.
            self.channels_last = isinstance(self.net, UNetGenerator)
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        *,
        direction: str = "AtoB",
        device: torch.device | str = "cpu",
        keep_dropout: bool | None = None,
        **options,
    ) -> Translator:
        """`keep_dropout=None` follows the checkpoint's `nets.dropout_at_test`; `options`:
        precision, tile, overlap, memory_budget (see the fields)."""
        ckpt = load_checkpoint(path, only=[], device=device)
        # Which generator of each kind of checkpoint translates in which direction.
        keys = MODELS[ckpt.kind].generators if ckpt.kind in MODELS else {}
        if not keys:
            raise UserError(f"a {ckpt.kind} checkpoint does not translate images", path=ckpt.path)
        if direction not in keys:
            raise UserError(f"a {ckpt.kind} checkpoint translates {', '.join(keys)} only, not {direction}",
                            path=ckpt.path)
        ckpt = load_checkpoint(ckpt.path, only=[keys[direction]], device=device)
        # A two-way network (UNIT, CoGAN, Dong et al.) holds both directions: take the one asked for.
        net = one_way(ckpt.nets[keys[direction]], direction)
        return cls.from_net(net, ckpt=ckpt, device=device, keep_dropout=keep_dropout, **options)

    @classmethod
    def from_net(cls, net: nn.Module, *, ckpt: Checkpoint | None = None, device: torch.device | str = "cpu",
                 keep_dropout: bool | None = None, **options) -> Translator:
        spec = getattr(net, "build_spec", {"kwargs": {}})["kwargs"]
        if keep_dropout is None:
            keep_dropout = bool(ckpt and ckpt.config.get("nets", {}).get("dropout_at_test", False))
        net.eval()
        has_dropout = False
        for m in net.modules():
            if isinstance(m, nn.Dropout):
                has_dropout = True
                m.train(keep_dropout)
        return cls(
            net=net.to(device),
            in_channels=int(spec.get("in_channels", 3)),
            out_channels=int(spec.get("out_channels", 3)),
            multiple=int(getattr(net, "size_multiple", 1)),
            device=torch.device(device),
            stochastic=keep_dropout and has_dropout,
            **options,
        )

    def plan(self, shape: torch.Size | tuple[int, ...]) -> RunPlan:
        """How a padded batch of `shape` (N, C, H, W) runs: see `infer.tile_plan.plan_run`."""
        n, _, h, w = shape
        if self.tile is not None:
            if self.tile == 0 or self.tile >= max(h, w):
                return RunPlan(batch=n, tile=0, overlap=0)
            overlap = default_overlap(self.tile, self.multiple) if self.overlap is None else self.overlap
            return RunPlan(batch=n, tile=self.tile, overlap=overlap)
        budget = self.memory_budget
        if budget is None:
            budget = int(available_bytes(self.device) * MEMORY_SHARE)
        if self._bytes_per_pixel is None:
            if n * h * w * GENEROUS_BYTES_PER_PIXEL <= budget:
                return RunPlan(batch=n, tile=0, overlap=0)  # fits by far: no need to probe the network
            self._bytes_per_pixel = activation_bytes_per_pixel(
                self.net, in_channels=self.in_channels, multiple=self.multiple, device=self.device,
                precision=self.precision)
        return plan_run(batch=n, height=h, width=w, multiple=self.multiple, bytes_per_pixel=self._bytes_per_pixel,
                        budget=budget)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) in [-1, 1] -> (N, out_channels, H, W) in [-1, 1], any H, W."""
        if x.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channels, got {x.shape[1]}")
        padded, (top, left, h, w) = pad_to_multiple(x.to(self.device), self.multiple)
        plan = self.plan(padded.shape)
        outputs = []
        for chunk in padded.split(plan.batch):
            with autocast(self.device, self.precision):
                if plan.tile:
                    y = run_tiled(self._forward, chunk, tile=plan.tile, overlap=plan.overlap)
                else:
                    y = self._forward(chunk)
            outputs.append(y[..., top : top + h, left : left + w].float().cpu().contiguous())
        return torch.cat(outputs) if len(outputs) > 1 else outputs[0]


def check_tiling(tile: int | None, overlap: int | None, *, multiple: int) -> None:
    """Tiles and overlaps on the network's stride grid (multiples of its size multiple), so each
    tile is a valid input and sees the same grid as the whole image."""
    if tile is None:
        if overlap is not None:
            raise UserError("--tile-overlap needs --tile N")
        return
    if tile < 0 or tile % multiple:
        raise UserError(f"--tile {tile}: this generator needs 0 (whole image) or a multiple of {multiple}")
    if overlap is not None and (overlap < 0 or overlap % multiple or (tile and overlap >= tile)):
        raise UserError(f"--tile-overlap {overlap}: needs a multiple of {multiple} below --tile {tile}")


# ITU-R 601-2 luma, the weights of PIL's convert("L"), so a frame turned grey here matches a
# file read as grey.
_LUMA = (0.299, 0.587, 0.114)


def translate_image(image: torch.Tensor, *, translator: Translator) -> torch.Tensor:
    """One frame (C, H, W) in [-1, 1], C = 1 or 3 -> (out_channels, H, W) in [-1, 1].

    A grey frame given to an RGB generator is repeated to RGB; an RGB frame given to a grey
    generator is turned to luma. Any H and W (padded for the network, cropped back).
    """
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected a frame (C, H, W) with C in 1, 3; got {tuple(image.shape)}")
    if image.shape[0] != translator.in_channels:
        if image.shape[0] == 1:
            image = image.expand(translator.in_channels, -1, -1)
        else:
            weights = torch.tensor(_LUMA, dtype=image.dtype, device=image.device).view(3, 1, 1)
            image = (image * weights).sum(dim=0, keepdim=True)
    return translator(image[None])[0]

