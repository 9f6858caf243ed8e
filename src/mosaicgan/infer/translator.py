"""A trained generator as a function on frames of any size: the per-frame core of `translate`
and `eval` (`Translator(batch)`, or `translate_image(frame, translator=...)` for one frame).
The generator comes from a checkpoint (which one per direction: `mosaicgan.models`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.checkpoint import Checkpoint, load_checkpoint
from mosaicgan.errors import UserError
from mosaicgan.models import MODELS



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

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        *,
        direction: str = "AtoB",
        device: torch.device | str = "cpu",
        keep_dropout: bool | None = None,
    ) -> Translator:
        """`keep_dropout=None` follows the checkpoint's `nets.dropout_at_test`."""
        ckpt = load_checkpoint(path, only=[], device=device)
        # Which generator of each kind of checkpoint translates in which direction.
        keys = MODELS[ckpt.kind].generators if ckpt.kind in MODELS else {}
        if not keys:
            raise UserError(f"a {ckpt.kind} checkpoint does not translate images", path=ckpt.path)
        if direction not in keys:
            raise UserError(f"a {ckpt.kind} checkpoint translates {', '.join(keys)} only, not {direction}", path=ckpt.path)
        ckpt = load_checkpoint(ckpt.path, only=[keys[direction]], device=device)
        return cls.from_net(ckpt.nets[keys[direction]], ckpt=ckpt, device=device, keep_dropout=keep_dropout)

    @classmethod
    def from_net(cls, net: nn.Module, *, ckpt: Checkpoint | None = None, device: torch.device | str = "cpu",
                 keep_dropout: bool | None = None) -> Translator:
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
        )

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) in [-1, 1] -> (N, out_channels, H, W) in [-1, 1], any H, W."""
        if x.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channels, got {x.shape[1]}")
        padded, (top, left, h, w) = pad_to_multiple(x.to(self.device), self.multiple)
        y = self.net(padded)
        return y[..., top : top + h, left : left + w].float().cpu()


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

