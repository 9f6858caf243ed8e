"""Two-way networks: one module that holds both directions of an unpaired translator, because its
directions share weights (UNIT's shared latent layers, CoGAN's coupled generators, the generator
and encoder of Dong et al.). Shared weights must live in one module: a checkpoint stores each
network's tensors once, and two networks holding one tensor could not be saved apart.

What a "two_way" network promises (besides the registry's rules for every network):
- `translate(x, *, direction)`: (N, C_in, H, W) in [-1, 1] -> (N, C_out, H, W) in [-1, 1], for
  direction "AtoB" (C_in = in_channels, C_out = out_channels) or "BtoA" (the other way round);
- `forward(x)` is `translate(x, direction="AtoB")`;
- an int `size_multiple` (what H and W must be multiples of);
- `exportable`: False when a translation is more than one graph (CoGAN's latent inversion is
  an optimisation per image), so `export` says so instead of writing a wrong graph.

`one_way(net, direction)` gives `translate`, `export` and `eval` a plain image-to-image module
(`OneWay`, sharing the network's parameters) for either kind of network.
"""

from __future__ import annotations

import torch
from torch import nn

from mosaicgan.choices import DIRECTIONS


class OneWay(nn.Module):
    """One direction of a two-way network: (N, C_in, H, W) -> (N, C_out, H, W), its parameters
    the network's own (not copies). `build_spec` names the network and the channels of this
    direction, which is what the translator and the ONNX metadata read."""

    def __init__(self, net: nn.Module, *, direction: str) -> None:
        super().__init__()
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        self.net = net
        self.direction = direction
        self.size_multiple = int(getattr(net, "size_multiple", 1))
        self.exportable = bool(getattr(net, "exportable", True))
        spec = getattr(net, "build_spec", {"name": type(net).__name__, "kwargs": {}})
        kwargs = dict(spec.get("kwargs", {}))
        c_in, c_out = int(kwargs.get("in_channels", 3)), int(kwargs.get("out_channels", 3))
        if direction == "BtoA":
            c_in, c_out = c_out, c_in
        self.build_spec = {"name": spec["name"], "kwargs": {**kwargs, "in_channels": c_in, "out_channels": c_out},
                           "direction": direction}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.translate(x, direction=self.direction)


def one_way(net: nn.Module, direction: str) -> nn.Module:
    """`net` itself for a one-direction generator; its `direction` half for a two-way network."""
    return OneWay(net, direction=direction) if hasattr(net, "translate") else net
