"""MobileNetV2 as an image classifier that CAM can read: features -> global mean -> linear.

Shaped after the TensorFlow-slim MobileNetV2 (the one behind the shipped ImageNet weights,
see `assets/README.md`), so weights converted from it fit without any reordering:
- batch norm is folded into the convolutions, so every convolution has a bias and there is
  no norm layer (the network is a fixed feature extractor here; train it only from scratch);
- stride-2 convolutions use TF "SAME" padding, which puts the odd extra pixel at the
  bottom/right; PyTorch's symmetric `padding=` would shift every map by half a pixel and
  lose agreement with the converted weights, so the padding is explicit (`SamePad`);
- the head is a global mean then a linear layer (TF applies a fixed 7x7 average pool and a
  1x1 convolution: the same thing at 224x224). A global mean keeps the network fully
  convolutional, so any input size works, and CAM can weight the feature maps by the
  class's row of `classifier.weight` (the class map's mean is then the class logit less its bias).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.nets.registry import register_net

# (expansion t, output channels c, repeats n, first stride s) of the MobileNetV2 paper, Table 2.
INVERTED_RESIDUAL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                             (6, 160, 3, 2), (6, 320, 1, 1))


def make_divisible(value: float, divisor: int = 8) -> int:
    """Channel counts of width-scaled MobileNets: nearest multiple of 8, never 10% below `value`."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class SamePad(nn.Module):
    """Zero padding of TF "SAME" for a `kernel` x `kernel` convolution with `stride`.

    Output size is ceil(input / stride); when the total padding is odd the extra pixel goes
    at the bottom/right. Computed per input size, so the network takes any H, W.
    """

    def __init__(self, *, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad takes the last dimension first
            out = -(-size // self.stride)
            total = max((out - 1) * self.stride + self.kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}"


def conv_act(in_ch: int, out_ch: int, *, kernel: int = 1, stride: int = 1, groups: int = 1,
             act: bool = True) -> nn.Sequential:
    """Convolution with bias (batch norm folded in), optionally followed by ReLU6."""
    layers: list[nn.Module] = []
    if kernel > 1 and stride > 1:
        layers.append(SamePad(kernel=kernel, stride=stride))
        padding = 0
    else:
        padding = kernel // 2  # stride 1, odd kernel: SAME padding is symmetric
    layers.append(nn.Conv2d(in_ch, out_ch, kernel, stride, padding, groups=groups, bias=True))
    if act:
        layers.append(nn.ReLU6())  # not in place: Grad-CAM hooks may hold the conv output
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expand -> 3x3 depthwise -> 1x1 linear projection, + input when shapes match.

    `conv(in_ch, out_ch, kernel=, stride=, groups=, act=)` builds each convolution with its
    padding and activation, so networks that differ only there (this one: TF SAME padding and
    ReLU6; CenterFace: symmetric padding and ReLU) share the block and its state-dict keys.
    """

    def __init__(self, *, in_ch: int, out_ch: int, stride: int, expand: int,
                 conv: Callable[..., nn.Sequential] | None = None) -> None:
        super().__init__()
        conv = conv_act if conv is None else conv
        hidden = in_ch * expand
        self.use_residual = stride == 1 and in_ch == out_ch
        layers = [conv(in_ch, hidden)] if expand != 1 else []
        layers += [conv(hidden, hidden, kernel=3, stride=stride, groups=hidden),
                   conv(hidden, out_ch, act=False)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_residual else y


class MobileNetV2(nn.Module):
    """MobileNetV2 classifier (Sandler et al., 2018) with folded batch norm.

    Input (N, 3, H, W) RGB in [-1, 1], any H, W (ImageNet weights were trained at 224x224);
    `forward_features` gives (N, last_channels, ceil(H/32), ceil(W/32)) after ReLU6;
    `forward` gives (N, num_classes) logits. With the shipped ImageNet weights
    num_classes = 1001 and class 0 is "background".
    """

    def __init__(self, *, num_classes: int = 1001, width_mult: float = 1.0, dropout: float = 0.0) -> None:
        super().__init__()
        if width_mult <= 0:
            raise ValueError(f"width_mult must be positive, got {width_mult}")
        in_ch = make_divisible(32 * width_mult)
        # The last layer is never thinner than 1280 channels (as in the paper), so CAM keeps its resolution of classes.
        self.last_channels = make_divisible(1280 * max(1.0, width_mult))
        layers: list[nn.Module] = [conv_act(3, in_ch, kernel=3, stride=2)]
        for expand, channels, repeats, stride in INVERTED_RESIDUAL_SETTING:
            out_ch = make_divisible(channels * width_mult)
            for i in range(repeats):
                first_stride = stride if i == 0 else 1
                layers.append(InvertedResidual(in_ch=in_ch, out_ch=out_ch, stride=first_stride, expand=expand))
                in_ch = out_ch
        layers.append(conv_act(in_ch, self.last_channels))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.last_channels, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(x).mean(dim=(2, 3))))

    @property
    def classifier_weight(self) -> torch.Tensor:
        """(num_classes, last_channels): the class weights CAM applies to the feature maps."""
        return self.classifier.weight

    @property
    def classifier_bias(self) -> torch.Tensor:
        return self.classifier.bias


@register_net("mobilenet_v2", kind="classifier",
              summary="MobileNetV2 (folded BN, TF-SAME padding, GAP + linear head); ImageNet weights ship in assets/")
def mobilenet_v2(**kwargs) -> MobileNetV2:
    return MobileNetV2(**kwargs)
