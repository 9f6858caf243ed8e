"""A classifier checkpoint with its labels: predict, name classes, and map where a class is.

`load_classifier()` gives the shipped ImageNet MobileNetV2 (assets/, works offline);
`load_classifier(path)` any mosaicgan checkpoint of kind "classifier" whose extra holds
`labels`. Networks are fully convolutional with a global mean, so images keep their aspect
ratio: the short side is resized to `short_side` (the long side capped at `max_side`).
"""

from __future__ import annotations

import difflib
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.data.images import pil_to_tensor
from mosaicgan.errors import UserError
from mosaicgan.localize.cam.maps import class_activation_map, grad_cam, supports_cam
from mosaicgan.localize.cam.policy import check_allowed_class, is_restricted

SHIPPED_WEIGHTS = "mobilenet_v2_imagenet.safetensors"
# CAM maps are 1/32 of the input side: a larger input than the 224 of training gives a finer
# map, and the fully convolutional network still recognises the object at that scale.
CAM_SHORT_SIDE = 320


def shipped_classifier_path() -> Path:
    """The ImageNet MobileNetV2 checkpoint inside the package (see assets/README.md)."""
    return Path(str(importlib.resources.files("mosaicgan") / "assets" / SHIPPED_WEIGHTS))


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    prob: float


def _norm(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


class ImageClassifier:
    """A classifier network plus its class labels.

    `net(x) -> (N, len(labels))` logits for x (N, 3, H, W) RGB in [-1, 1]. Images are PIL
    images, or tensors (3, H, W) / (N, 3, H, W) in [-1, 1].
    """

    def __init__(self, net: nn.Module, labels: list[str], *, short_side: int = 224, max_side: int = 1024,
                 device: str | torch.device = "cpu") -> None:
        if not labels:
            raise ValueError("a classifier needs at least one label")
        self.net = net.to(device).eval()
        self.labels = list(labels)
        self.short_side = short_side
        self.max_side = max_side
        self.device = torch.device(device)
        # Each label's names: "tabby, tabby cat" answers to the whole label, "tabby" and "tabby cat".
        self._names: dict[str, list[int]] = {}
        for i, label in enumerate(self.labels):
            for name in {_norm(label), *(_norm(part) for part in label.split(",") if part.strip())}:
                self._names.setdefault(name, []).append(i)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def preprocess(self, image: Image.Image | torch.Tensor, *, short_side: int | None = None) -> torch.Tensor:
        """-> (N, 3, h, w) in [-1, 1] on the device, short side resized, aspect ratio kept."""
        x = pil_to_tensor(image.convert("RGB")) if isinstance(image, Image.Image) else image
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an RGB image (3, H, W) or (N, 3, H, W), got shape {tuple(x.shape)}")
        height, width = x.shape[-2:]
        scale = min((short_side or self.short_side) / min(height, width), self.max_side / max(height, width))
        # 32 px (one cell of the last feature map) is the least the network can look at.
        size = (max(32, round(height * scale)), max(32, round(width * scale)))
        x = x.to(self.device, torch.float32)
        if size != (height, width):
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return x

    def logits(self, image: Image.Image | torch.Tensor, *, short_side: int | None = None) -> torch.Tensor:
        """(N, num_classes) logits."""
        with torch.no_grad():
            return self.net(self.preprocess(image, short_side=short_side))

    def predict(self, image: Image.Image | torch.Tensor, *, top_k: int = 5,
                short_side: int | None = None) -> list[Prediction]:
        """The `top_k` most probable classes of one image, most probable first."""
        logits = self.logits(image, short_side=short_side)
        if logits.shape[0] != 1:
            raise ValueError(f"predict takes one image, got {logits.shape[0]}")
        probs = logits[0].softmax(dim=0)
        values, indices = probs.topk(min(top_k, self.num_classes))
        return [Prediction(int(i), self.labels[int(i)], float(p)) for p, i in zip(values, indices, strict=True)]

    def resolve_class(self, target: str | int) -> int:
        """A class index from an index, a label, or one comma-separated name of a label.

        Matching ignores case, extra spaces and underscores. An unknown name raises UserError
        listing close matches; a name that several labels share ("crane") asks for the index.
        """
        if isinstance(target, int) or (isinstance(target, str) and target.strip().isdigit()):
            index = int(target)
            if not 0 <= index < self.num_classes:
                raise UserError(f"class index {index} out of range 0..{self.num_classes - 1}")
            return index
        key = _norm(target)
        found = self._names.get(key, [])
        if len(found) == 1:
            return found[0]
        if found:
            choices = "; ".join(f"{i} ({self.labels[i]})" for i in found)
            raise UserError(f"class name {target!r} fits several classes: {choices}; give the index")
        # Names on the refusal list are never suggested (see localize/cam/policy.py).
        offered = [name for name in self._names if not is_restricted(self.labels[self._names[name][0]])]
        close = difflib.get_close_matches(key, offered, n=5, cutoff=0.6)
        if close:
            hint = "close matches: " + "; ".join(f"{name!r} ({self._names[name][0]})" for name in close)
        else:
            hint = f"no close match among the {self.num_classes} class names"
        raise UserError(f"unknown class {target!r}; {hint}")

    def resolve_allowed_class(self, target: str | int) -> int:
        """`resolve_class`, refusing classes on the refusal list (by the name given and by the
        label it resolves to, so "two-piece" and an index are refused like "bikini")."""
        if isinstance(target, str) and not target.strip().isdigit():
            check_allowed_class(target)
        index = self.resolve_class(target)
        check_allowed_class(self.labels[index])
        return index

    def class_map(self, image: Image.Image | torch.Tensor, target: str | int, *, method: str = "auto",
                  short_side: int | None = None, layer: nn.Module | str | None = None) -> torch.Tensor:
        """Heatmap (N, H, W) in [0, 1] at the image's own size of where the net sees `target`.

        method: "cam" (needs a GAP + linear head), "grad-cam", or "auto" (CAM when the net
        supports it). `layer` is Grad-CAM's layer (see `cam.resolve_layer`).
        """
        index = self.resolve_class(target)
        if isinstance(image, Image.Image):
            size = (image.height, image.width)
        else:
            size = tuple(image.shape[-2:])
        x = self.preprocess(image, short_side=short_side or max(self.short_side, CAM_SHORT_SIDE))
        if method == "auto":
            method = "cam" if supports_cam(self.net) else "grad-cam"
        if method == "cam":
            return class_activation_map(self.net, x, index, size=size).cpu()
        if method == "grad-cam":
            return grad_cam(self.net, x, index, layer=layer, size=size).cpu()
        raise ValueError(f"method must be 'auto', 'cam' or 'grad-cam', got {method!r}")


def load_classifier(path: str | Path | None = None, *, device: str | torch.device = "cpu") -> ImageClassifier:
    """The shipped ImageNet MobileNetV2 (path None) or a "classifier" checkpoint with labels."""
    path = shipped_classifier_path() if path is None else Path(path)
    ckpt = load_checkpoint(path, device=device, kind="classifier")
    if "classifier" in ckpt.nets:
        net = ckpt.nets["classifier"]
    elif len(ckpt.nets) == 1:
        net = next(iter(ckpt.nets.values()))
    else:
        names = ", ".join(ckpt.nets)
        raise UserError(f"checkpoint holds several networks ({names}) and none is 'classifier'", path=ckpt.path)
    labels = ckpt.extra.get("labels")
    if not isinstance(labels, list) or not labels:
        raise UserError("classifier checkpoint has no class labels (extra['labels'])", path=ckpt.path)
    weight = getattr(net, "classifier_weight", None)
    if isinstance(weight, torch.Tensor) and weight.shape[0] != len(labels):
        raise UserError(f"checkpoint has {len(labels)} labels for {weight.shape[0]} classes", path=ckpt.path)
    return ImageClassifier(net, labels, short_side=int(ckpt.extra.get("image_size", 224)), device=device)
