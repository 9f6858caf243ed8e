"""Super-resolution of frames of any size with an SRResNet checkpoint (`train srgan`), tile by tile.

`Upscaler.from_checkpoint(None)` is the shipped x4 model (assets/srresnet_x4.safetensors, see
assets/README.md); any `srgan` checkpoint or run folder works the same way. Frames are tensors
(C, H, W) in [-1, 1]; a grey frame goes through the network as RGB and comes back grey (BT.601
luma). Tiling uses the shared `ops.tiles.run_tiled`: with an overlap of at least 4x the
network's receptive radius (`receptive_radius`) the tiled result equals the whole-image one up
to float rounding. The default overlap of 32 is below that for the shipped model (radius 22) but
its outputs differ from whole-image ones by at most 0.021 of an 8-bit level (Set14 baboon, tiles
of 128: overlap 16 gives 0.63, 88 gives 4e-5), so a saved pixel moves by at most one level, and
only where rounding falls the other way (about 1 value in 70,000), at less extra work.
A call returns the whole output as float32; `upscale` (files) instead goes band by band into
8 bits (`upscale_bands.upscale_to_uint8`), so memory stays bounded at any image height.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import torch
from torch import nn

from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.choices import UPSCALE_OVERLAP, UPSCALE_TILE
from mosaicgan.errors import UserError
from mosaicgan.infer.precision import autocast, check_precision, resolve_precision
from mosaicgan.ops.tiles import run_tiled

SHIPPED_WEIGHTS = "srresnet_x4.safetensors"
DEFAULT_TILE = UPSCALE_TILE
DEFAULT_OVERLAP = UPSCALE_OVERLAP
_LUMA = (0.299, 0.587, 0.114)


def shipped_upscaler_path() -> Path:
    """The shipped x4 SRResNet inside the package."""
    return Path(str(importlib.resources.files("mosaicgan") / "assets" / SHIPPED_WEIGHTS))


def receptive_radius(net: nn.Module) -> int:
    """Input pixels on each side that one output pixel depends on (rounded up), for SRResNet:
    the 9x9 head, two 3x3 convolutions per block, the body's last 3x3, and the upsampling tail."""
    kwargs = getattr(net, "build_spec", {}).get("kwargs", {})
    blocks = kwargs.get("blocks", 16)
    tail = 3 if kwargs.get("upsampler", "subpixel") == "subpixel" else 1
    return 4 + 2 * blocks + 1 + tail


class Upscaler:
    """`upscaler(frame)` -> the frame `scale` times larger, in [-1, 1]."""

    def __init__(self, net: nn.Module, *, scale: int, device: str | torch.device = "cpu",
                 tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP, precision: str = "auto") -> None:
        if tile < 16:
            raise UserError(f"--tile must be at least 16, got {tile}")
        if not 0 <= overlap < tile:
            raise UserError(f"--tile-overlap must be in [0, --tile), got {overlap} with --tile {tile}")
        self.net = net.float().to(device).eval()
        self.scale, self.device, self.tile, self.overlap = scale, torch.device(device), tile, overlap
        check_precision(precision, self.device)
        # auto: bf16 where native. The shipped x4 model on Set5 (x4 bicubic inputs): 1.7x faster on
        # an AVX512-BF16 CPU, PSNR 28.815 against 28.816 dB in float32 (outputs 59 dB apart).
        self.precision = resolve_precision(precision, self.device)

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, *, device: str | torch.device = "cpu",
                        tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP, precision: str = "auto") -> Upscaler:
        ckpt = load_checkpoint(shipped_upscaler_path() if path is None else path, kind="srgan", only=["gen"])
        net = ckpt.nets["gen"]
        return cls(net, scale=int(net.scale), device=device, tile=tile, overlap=overlap, precision=precision)

    @torch.no_grad()
    def __call__(self, frame: torch.Tensor) -> torch.Tensor:
        if frame.ndim != 3 or frame.shape[0] not in (1, 3):
            raise ValueError(f"expected a frame (C, H, W) with C in 1, 3; got {tuple(frame.shape)}")
        x = frame.expand(3, -1, -1)[None].to(self.device, torch.float32)
        # In place: at 4000x3000 -> 16000x12000 every full-size float copy is 2.3 GB.
        with autocast(self.device, self.precision):
            y = run_tiled(lambda t: self.net(t).float().clamp_(-1, 1), x, tile=self.tile, overlap=self.overlap,
                          scale=self.scale)[0].clamp_(-1, 1).cpu()
        if frame.shape[0] == 1:
            y = sum(w * c for w, c in zip(_LUMA, y, strict=True))[None]
        return y
