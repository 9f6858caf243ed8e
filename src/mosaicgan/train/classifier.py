"""Fine-tune the shipped ImageNet MobileNetV2 on the user's class folders, for CAM.

The feature extractor starts from the shipped weights and the first `nets.freeze_features`
of its 19 blocks stay frozen (a few hundred images cannot retrain them, and frozen blocks cost
no backward pass); the 1001-way head is replaced by a K-way head. The head is a global mean
then a linear layer, so CAM can read the fine-tuned network as it reads the ImageNet one.

The checkpoint is kind "classifier" with `extra["labels"]` (the folder names), so
`load_classifier(CKPT)` and `--classifier CKPT` take it as they take the shipped model.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.config import TrainConfig
from mosaicgan.data.folder import ClassFolderDataset, class_folders, split_classes
from mosaicgan.errors import UserError
from mosaicgan.localize.cam.classifier import shipped_classifier_path
from mosaicgan.localize.cam.policy import check_allowed_class
from mosaicgan.nets import get_net
from mosaicgan.train.precision import Precision

DROPOUT = 0.2  # before the new head, as MobileNetV2 was trained


def class_split(config: TrainConfig):
    """The labels and the train / validation items; refuses class names on the refusal list
    (first, so that no other complaint about such a folder comes before the refusal)."""
    for folder in class_folders(config.data.root):
        check_allowed_class(folder.name)
    return split_classes(config.data.root, val_fraction=config.data.val_fraction, seed=config.run.seed)


def build_classifier(*, num_classes: int, pretrained: bool, freeze: int, dropout: bool) -> nn.Module:
    net = get_net("mobilenet_v2", kind="classifier", num_classes=num_classes, dropout=DROPOUT if dropout else 0.0)
    if pretrained:
        shipped = load_checkpoint(shipped_classifier_path(), kind="classifier").nets["classifier"]
        net.features.load_state_dict(shipped.features.state_dict())
        net.float()
    # A new head starts small, so the first steps do not wreck the pretrained features' use.
    nn.init.normal_(net.classifier.weight, 0.0, 0.01)
    nn.init.zeros_(net.classifier.bias)
    blocks = len(net.features)
    if not 0 <= freeze <= blocks:
        raise UserError(f"nets.freeze_features must lie in 0..{blocks}, got {freeze}")
    for block in net.features[:freeze]:
        block.requires_grad_(False)
    return net


class ClassifierTask:
    kind = "classifier"
    owns_init = True  # the loop must not re-initialise pretrained weights

    def __init__(self, config: TrainConfig) -> None:
        if config.nets.classifier != "mobilenet_v2":
            # Only mobilenet_v2 has shipped weights to start from (and the CAM head it needs).
            raise UserError(f"nets.classifier: the classifier trainer fine-tunes mobilenet_v2, "
                            f"not {config.nets.classifier!r}")
        split = class_split(config)
        self.labels = split.labels
        self.config = config
        self.net = build_classifier(num_classes=len(self.labels), pretrained=config.nets.pretrained,
                                    freeze=config.nets.freeze_features, dropout=config.nets.dropout)
        self.val = ClassFolderDataset(split.val, crop_size=config.data.crop_size,
                                      load_size=config.data.load_size) if split.val else None
        trainable = [p for p in self.net.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(trainable, lr=config.optim.lr, betas=(config.optim.beta1, config.optim.beta2))
        self.last_val: dict[str, float] = {}
        self.precision = Precision()  # the loop sets the run's (autocast, fp16 scaling, gradient averaging)

    def nets(self) -> dict[str, nn.Module]:
        return {"classifier": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"classifier": self.opt}

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        images, labels = batch["image"], batch["label"]
        self.opt.zero_grad(set_to_none=True)
        logits = self.net(images)
        loss = F.cross_entropy(logits, labels)
        self.precision.backward(loss, key="classifier")
        self.precision.step(self.opt, key="classifier")
        self._last = images.detach()
        return {"loss_ce": loss.detach(), "acc": (logits.argmax(dim=1) == labels).float().mean()}

    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        return [self._last]

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Accuracy and loss on the held-out images (centre crops, dropout off)."""
        if self.val is None:
            return {}
        device = next(self.net.parameters()).device
        self.net.eval()
        correct, loss = 0, 0.0
        try:
            for i in range(0, len(self.val), 16):
                items = [self.val[j] for j in range(i, min(i + 16, len(self.val)))]
                x = torch.stack([it["image"] for it in items]).to(device)
                y = torch.tensor([it["label"] for it in items], device=device)
                logits = self.net(x)
                loss += F.cross_entropy(logits, y, reduction="sum").item()
                correct += int((logits.argmax(dim=1) == y).sum())
        finally:
            self.net.train()
        self.last_val = {"val_acc": correct / len(self.val), "val_loss": loss / len(self.val)}
        return self.last_val

    def checkpoint_extra(self) -> dict[str, Any]:
        # What load_classifier needs: the labels, and the short side the net was trained at.
        return {"labels": self.labels, "image_size": self.config.data.crop_size, **self.last_val}

    def extra_state(self) -> dict[str, Any]:
        return {"last_val": dict(self.last_val)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.last_val = dict(state.get("last_val", {}))


def classifier_dataset(config: TrainConfig) -> ClassFolderDataset:
    split = class_split(config)
    return ClassFolderDataset(split.train, load_size=config.data.load_size, crop_size=config.data.crop_size,
                              flip=config.data.flip)
