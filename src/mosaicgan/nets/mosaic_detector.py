"""The mosaic detector network: where in a photo a block mosaic is, as a probability map.

A mosaic shows itself in pixel detail (flat blocks, one-pixel steps on straight lines that
repeat at a fixed spacing) over an extent of several blocks (up to 40 px each), so the net
reads full-resolution detail through strided convolutions and decides at 1/16 resolution
with dilated convolutions (a receptive field of about 250 px), then brings that decision back
to 1/4 resolution beside the 1/4-resolution detail, which places the region's outline.

The input gets two fixed extra channels, the absolute luma steps to the right and downwards:
what a mosaic is made of, which a small first layer would otherwise spend its width finding.
Sized for a CPU: about 1.2 GMAC per megapixel (well under a second on one core).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.nets.registry import register_net

STRIDE = 16  # the coarsest level; inputs are padded up to a multiple of it
OUT_STRIDE = 4  # the output map has one value per 4 x 4 pixels
STEP_GAIN = 4.0  # luma steps are a few hundredths in [-1, 1] units; brought to about unit scale


def _conv(cin: int, cout: int, *, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def step_channels(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] -> (N, 2, H, W): |luma step| to the right and downwards (0 at the far edge)."""
    y = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    dx = F.pad((y[..., :, 1:] - y[..., :, :-1]).abs(), (0, 1, 0, 0))
    dy = F.pad((y[..., 1:, :] - y[..., :-1, :]).abs(), (0, 0, 0, 1))
    return torch.cat([dx, dy], dim=1) * STEP_GAIN


class MosaicDetectorNet(nn.Module):
    """Input (N, 3, H, W) in [-1, 1], any H, W. Output: logits (N, 1, ceil(H/4), ceil(W/4)),
    each the evidence that its 4 x 4 pixels lie in a mosaic. width: channels of the finest level
    (the coarser ones have 1.5x, 2x and 3x as many)."""

    def __init__(self, *, width: int = 16) -> None:
        super().__init__()
        w1, w2, w3, w4 = width, width * 3 // 2, width * 2, width * 3
        self.down1 = _conv(5, w1, stride=2)  # 1/2
        self.down2 = _conv(w1, w2, stride=2)  # 1/4
        self.down3 = _conv(w2, w3, stride=2)  # 1/8
        self.down4 = _conv(w3, w4, stride=2)  # 1/16
        self.context = nn.Sequential(*[_conv(w4, w4, dilation=d) for d in (1, 2, 4)])
        self.lift = nn.Conv2d(w4, w1, 1)
        self.fuse = _conv(w1 + w2, w1)
        self.head = nn.Conv2d(w1, 1, 1)
        self.size_multiple = 1
        self.out_stride = OUT_STRIDE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        ph, pw = -h % STRIDE, -w % STRIDE
        feats = torch.cat([x, step_channels(x)], dim=1)
        if ph or pw:  # replicate: no steps at the padding's seam
            feats = F.pad(feats, (0, pw, 0, ph), mode="replicate")
        f2 = self.down2(self.down1(feats))
        c = self.down4(self.down3(f2))
        c = c + self.context(c)
        up = F.interpolate(self.lift(c), size=f2.shape[-2:], mode="bilinear", align_corners=False)
        logits = self.head(self.fuse(torch.cat([up, f2], dim=1)))
        return logits[..., : -(-h // OUT_STRIDE), : -(-w // OUT_STRIDE)]


@register_net("mosaic_detector", kind="segmenter", summary="mosaic detector: probability map of block mosaics",
              defaults={"width": 16})
def mosaic_detector(**kwargs) -> MosaicDetectorNet:
    return MosaicDetectorNet(**kwargs)
