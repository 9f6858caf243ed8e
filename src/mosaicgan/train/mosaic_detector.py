"""The mosaic detector (nets.mosaic_detector), trained with per-pixel BCE on crops made on the fly.

The target is the mosaic mask averaged over each 4 x 4 cell of the output map (edges are soft).
The log's `iou` is that of the thresholded map (p > 0.5) with the mask > 0.5 over the batch;
`clean_hit` the share of clean crops in the batch where any cell passes 0.5.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from mosaicgan.config import TrainConfig
from mosaicgan.data.mosaic_masks import MosaicMasks
from mosaicgan.data.recipe_mix import parse_mix
from mosaicgan.errors import UserError
from mosaicgan.nets import get_net


def build_detector(config: TrainConfig) -> torch.nn.Module:
    if config.nets.net_g != "mosaic_detector":
        raise UserError(f"the detector trainer trains net_g='mosaic_detector', not {config.nets.net_g!r}")
    return get_net("mosaic_detector", width=config.nets.ngf)


def cell_target(mask: torch.Tensor, *, stride: int, size: tuple[int, int]) -> torch.Tensor:
    """(N, 1, H, W) mask -> (N, 1, h, w): its mean over each stride x stride cell (cut cells: their real pixels)."""
    h, w = mask.shape[-2:]
    padded = F.pad(mask, (0, -w % stride, 0, -h % stride))
    ones = F.pad(torch.ones_like(mask), (0, -w % stride, 0, -h % stride))
    target = F.avg_pool2d(padded, stride) / F.avg_pool2d(ones, stride).clamp_min(1e-6)
    return target[..., : size[0], : size[1]]


class DetectorTask:
    kind = "mosaic_detector"
    owns_init = True  # PyTorch's default (Kaiming) init suits conv + BatchNorm + ReLU; N(0, 0.02) starts it slowly

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.net = build_detector(config)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=config.optim.lr,
                                    betas=(config.optim.beta1, config.optim.beta2))

    def nets(self) -> dict[str, torch.nn.Module]:
        return {"detector": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"detector": self.opt}

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        image, mask = batch["image"], batch["mask"]
        self.opt.zero_grad(set_to_none=True)
        logits = self.net(image).float()
        target = cell_target(mask, stride=self.net.out_stride, size=logits.shape[-2:])
        loss = F.binary_cross_entropy_with_logits(logits, target)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            found, truth = logits > 0, target > 0.5
            union = (found | truth).sum().item()
            clean = mask.flatten(1).amax(dim=1) == 0
            hit = found.flatten(1).any(dim=1)[clean].float()
            self._last = (image, mask, logits.detach(), target)
            return {"loss_bce": loss.item(), "iou": (found & truth).sum().item() / max(union, 1),
                    "clean_hit": hit.mean().item() if hit.numel() else 0.0}

    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """image | true mask | probability map (upsampled to the image)."""
        image, mask, logits, _ = self._last
        prob = F.interpolate(torch.sigmoid(logits), size=image.shape[-2:], mode="nearest")
        return [image, mask.mul(2).sub(1).expand_as(image), prob.mul(2).sub(1).expand_as(image)]

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass


def detector_dataset(config: TrainConfig) -> MosaicMasks:
    m = config.mosaic
    m.check_ranges()
    if not 0 <= m.clean_prob < 1:
        raise UserError(f"mosaic.clean_prob must be in [0, 1), got {m.clean_prob}")
    return MosaicMasks(roots=config.data.roots, length=m.samples_per_epoch, crop=config.data.crop_size,
                       block_min=m.block_min, block_max=m.block_max, rect_prob=m.rect_prob,
                       clean_prob=m.clean_prob, full_prob=m.full_prob,
                       jpeg_prob=m.jpeg_prob, jpeg_quality=(m.jpeg_quality_min, m.jpeg_quality_max),
                       recipes=parse_mix(m.recipes, flag="mosaic.recipes") if m.recipes else None,
                       box_prob=m.box_prob)
