"""Class activation maps: where in an image a classifier sees a class.

- `class_activation_map` (CAM, Zhou et al. 2016) for classifiers that end in global average
  pooling + a linear layer: weight the last feature maps by the class's row of that layer.
  Such a model exposes `forward_features(x) -> (N, C, h, w)` and `classifier_weight`
  (num_classes, C), as `nets.mobilenet_v2.MobileNetV2` does.
- `grad_cam` (Selvaraju et al. 2017) for any other classifier: weight the maps of any layer
  by the spatial mean of the class score's gradient. For a GAP + linear head at the last
  feature layer that mean gradient is the class weight / (h * w), so both give the same map.

Both return heatmaps (N, H, W) in [0, 1] at the image size: ReLU (only evidence *for* the
class counts), bilinear upsampling, then division by each map's maximum, so a threshold of
0.5 means "half the strongest response". `heatmap_to_mask` (below) turns one into a mask.
Models must be in eval mode (batch norm statistics, no dropout); neither function changes it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.errors import UserError

ClassIndex = int | Sequence[int] | torch.Tensor


def supports_cam(model: nn.Module) -> bool:
    """True when the model exposes what CAM needs (otherwise use `grad_cam`)."""
    return callable(getattr(model, "forward_features", None)) and isinstance(
        getattr(model, "classifier_weight", None), torch.Tensor
    )


def _class_indices(class_idx: ClassIndex, n: int, num_classes: int | None = None) -> torch.Tensor:
    """One class per image: an int for all, or a sequence / tensor of n."""
    idx = torch.as_tensor(class_idx, dtype=torch.long).reshape(-1)
    if idx.numel() == 1:
        idx = idx.expand(n)
    if idx.numel() != n:
        raise ValueError(f"got {idx.numel()} class indices for {n} images")
    if num_classes is not None and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"class index out of range 0..{num_classes - 1}: {idx.tolist()}")
    return idx


def normalize_maps(raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, h, w) raw class maps -> (N, H, W) in [0, 1]: upsample, ReLU, divide by each maximum."""
    up = F.interpolate(raw[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]
    up = up.clamp_min(0)
    peak = up.flatten(1).amax(dim=1).clamp_min(torch.finfo(up.dtype).tiny)
    return up / peak[:, None, None]


def class_activation_map(
    model: nn.Module, images: torch.Tensor, class_idx: ClassIndex, *, size: tuple[int, int] | None = None
) -> torch.Tensor:
    """CAM of class `class_idx` (one int, or one per image) for images (N, 3, H, W) in [-1, 1].

    Returns (N, H, W) in [0, 1] (or at `size`). The class bias is left out: it shifts every
    position equally, and leaving it out is what makes CAM and Grad-CAM agree.
    """
    if not supports_cam(model):
        raise TypeError(f"{type(model).__name__} has no forward_features/classifier_weight; use grad_cam")
    weight = model.classifier_weight
    idx = _class_indices(class_idx, images.shape[0], weight.shape[0])
    with torch.no_grad():
        features = model.forward_features(images)
        raw = torch.einsum("nc,nchw->nhw", weight[idx.to(weight.device)].to(features.dtype), features)
    return normalize_maps(raw, size or tuple(images.shape[-2:]))


def conv_layer_names(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def resolve_layer(model: nn.Module, layer: nn.Module | str | None) -> nn.Module:
    """The module whose output Grad-CAM weights.

    None picks `model.features` when the model has one (torchvision's convention, and ours:
    it ends at the last feature maps), else the model's last Conv2d. A string is a dotted
    module name; an unknown one raises UserError listing close conv layer names.
    """
    if isinstance(layer, nn.Module):
        return layer
    if layer is None:
        features = getattr(model, "features", None)
        if isinstance(features, nn.Module):
            return features
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise ValueError(f"{type(model).__name__} has no Conv2d layer; name the layer for Grad-CAM")
        return convs[-1]
    names = dict(model.named_modules())
    if layer in names:
        return names[layer]
    close = difflib.get_close_matches(layer, conv_layer_names(model), n=5, cutoff=0.5)
    if close:
        hint = f"close matches: {', '.join(close)}"
    else:
        hint = f"its last conv layers: {', '.join(conv_layer_names(model)[-5:])}"
    raise UserError(f"model has no layer {layer!r}; {hint}")


def grad_cam(
    model: nn.Module,
    images: torch.Tensor,
    class_idx: ClassIndex,
    *,
    layer: nn.Module | str | None = None,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Grad-CAM of class `class_idx` at `layer` of any classifier `model(images) -> (N, K)` logits.

    images (N, 3, H, W) in [-1, 1]; returns (N, H, W) in [0, 1] (or at `size`). Parameters
    need not require gradients: the images are made to, so every activation does. If the layer
    runs more than once per forward pass, its last call is used.
    """
    target = resolve_layer(model, layer)
    captured: dict[str, torch.Tensor] = {}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"Grad-CAM needs a layer that outputs one tensor; {type(module).__name__} does not")
        captured["maps"] = output
        # Hand the rest of the network a copy: an in-place op downstream (ReLU(inplace=True))
        # then changes the copy, not the tensor we differentiate against.
        return output.clone()

    handle = target.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = model(images.detach().requires_grad_(True))
            idx = _class_indices(class_idx, images.shape[0], logits.shape[1]).to(logits.device)
            # Images are independent in eval mode, so one backward of the summed scores gives
            # each image the gradient of its own class score.
            score = logits.gather(1, idx[:, None]).sum()
            (grads,) = torch.autograd.grad(score, captured["maps"])
    finally:
        handle.remove()
    maps = captured["maps"].detach()
    if maps.ndim != 4:
        raise ValueError(f"Grad-CAM needs (N, C, h, w) maps; layer gives shape {tuple(maps.shape)}")
    weights = grads.mean(dim=(2, 3), keepdim=True)
    raw = (weights * maps).sum(dim=1)
    return normalize_maps(raw, size or tuple(images.shape[-2:]))


KEEP = ("largest", "peak", "all")


def _components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a bool (H, W) array: count (with background 0), labels, stats."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return count, labels, stats


def heatmap_to_mask(heatmap: torch.Tensor, *, threshold: float = 0.5, keep: str = "largest") -> torch.Tensor:
    """Threshold a heatmap (H, W) or (N, H, W) at `threshold` times its strongest response.

    keep: "largest" keeps the largest connected region above the threshold, "peak" the region
    holding the maximum, "all" every region. The threshold is relative to each map's own
    maximum, so raw (unnormalised) maps work too; a map with no positive value gives an
    empty mask. Returns a bool tensor of the heatmap's shape.
    """
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {KEEP}, got {keep!r}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if heatmap.ndim == 3:
        return torch.stack([heatmap_to_mask(h, threshold=threshold, keep=keep) for h in heatmap])
    if heatmap.ndim != 2:
        raise ValueError(f"expected a heatmap (H, W) or (N, H, W), got shape {tuple(heatmap.shape)}")
    values = heatmap.detach().float().cpu()
    peak = float(values.max())
    if peak <= 0:
        return torch.zeros(values.shape, dtype=torch.bool)
    above = (values >= threshold * peak).numpy()
    if keep == "all":
        return torch.from_numpy(above)
    count, labels, stats = _components(above)
    if keep == "largest":
        chosen = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    else:
        y, x = np.unravel_index(int(values.argmax()), values.shape)
        chosen = int(labels[y, x])
    return torch.from_numpy(labels == chosen)
