"""The fixed feature network of SRGAN's content loss, from `srgan.features` / `srgan.feature_layer`.

- "mobilenet_v2": the shipped ImageNet MobileNetV2 (assets/), cut after `features[6]`, the end
  of its 32-channel stage at 1/8 resolution ("block6"). That is between the paper's VGG22 (1/2)
  and VGG54 (1/16): deep enough to describe texture rather than pixels, shallow enough to keep
  its position within a few pixels. "block3" (24 channels, 1/4) and "block13" (96, 1/16) are
  the other choices.
- "vgg19:/path/vgg19.pth": torchvision's VGG19 weights from a file the user has (a state dict,
  read with torch.load(weights_only=True): no code in it runs); layer "relu5_4" (VGG54, the
  default) or "relu2_2" (VGG22). As in the paper, features are divided by 12.75 so that the
  loss is on a scale comparable to the pixel MSE.

Both take images in [-1, 1]; each wrapper converts to what its network was trained on.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import torch
from torch import nn

from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.errors import UserError
from mosaicgan.nets.vgg19 import LAYERS as VGG_LAYERS
from mosaicgan.nets.vgg19 import vgg19_features

MOBILENET_LAYERS = {"block3": 4, "block6": 7, "block13": 14}  # name -> number of `features` modules kept
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG_RESCALE = 1 / 12.75  # the paper's rescaling of VGG feature maps


class _Frozen(nn.Module):
    """A feature network with its input conversion; always in eval mode, no trainable weights."""

    def __init__(self, net: nn.Module, *, mean: tuple[float, ...], std: tuple[float, ...], rescale: float) -> None:
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.rescale = rescale

    def train(self, mode: bool = True) -> _Frozen:
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std) * self.rescale


def feature_network(spec: str, *, layer: str = "auto") -> nn.Module:
    """The frozen feature network for `srgan.features` = `spec` (see the module's docstring)."""
    name, _, path = spec.partition(":")
    if name == "mobilenet_v2" and not path:
        layer = "block6" if layer == "auto" else layer
        if layer not in MOBILENET_LAYERS:
            raise UserError(f"srgan.feature_layer {layer!r} is not a mobilenet_v2 layer; choose one of: "
                            f"{', '.join(MOBILENET_LAYERS)}")
        shipped = Path(str(importlib.resources.files("mosaicgan") / "assets" / "mobilenet_v2_imagenet.safetensors"))
        net = load_checkpoint(shipped, kind="classifier").nets["classifier"].float()
        # The shipped network takes [-1, 1] as it is: mean 0, std 1.
        return _Frozen(net.features[: MOBILENET_LAYERS[layer]], mean=(0.0,), std=(1.0,), rescale=1.0)
    if name == "vgg19" and path:
        layer = "relu5_4" if layer == "auto" else layer
        if layer not in VGG_LAYERS:
            raise UserError(f"srgan.feature_layer {layer!r} is not a vgg19 layer; "
                            f"choose one of: {', '.join(VGG_LAYERS)}")
        net = vgg19_features(layer=layer)
        net.load_state_dict(_vgg19_state(Path(path), net))
        # torchvision's VGG takes [0, 1] images normalised by the ImageNet mean and std.
        mean = tuple(2 * m - 1 for m in IMAGENET_MEAN)
        std = tuple(2 * s for s in IMAGENET_STD)
        return _Frozen(net, mean=mean, std=std, rescale=VGG_RESCALE)
    raise UserError(f"srgan.features must be 'mobilenet_v2' or 'vgg19:/path/to/vgg19.pth', got {spec!r}")


def _vgg19_state(path: Path, net: nn.Module) -> dict[str, torch.Tensor]:
    """The `features.*` tensors of a torchvision VGG19 state dict, checked against `net`'s shapes."""
    if not path.is_file():
        raise UserError("no such VGG19 weights file", path=path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (pickled code, damaged, not a torch file: all refused)
        raise UserError(f"not a torch state dict that loads with weights_only ({type(err).__name__})",
                        path=path) from None
    if not isinstance(state, dict):
        raise UserError("not a state dict (a mapping of tensor names to tensors)", path=path)
    wanted = {f"features.{k}": v.shape for k, v in net.state_dict().items()}
    out = {}
    for key, shape in wanted.items():
        tensor = state.get(key)
        if not isinstance(tensor, torch.Tensor):
            raise UserError(f"not torchvision VGG19 weights (no tensor {key!r})", path=path)
        if tensor.shape != shape:
            raise UserError(f"not torchvision VGG19 weights ({key} has shape {tuple(tensor.shape)}, "
                            f"VGG19 needs {tuple(shape)})", path=path)
        out[key[len("features."):]] = tensor.float()
    return out
