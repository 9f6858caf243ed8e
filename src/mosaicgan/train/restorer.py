"""The mosaic restorer (nets.restorer), trained with L1 inside the region on pairs made on the fly.

No discriminator: the benchmark scores fidelity (PSNR, SSIM inside the region), which an
adversarial term trades away. The network starts as the classical restoration (its last layer
is zero, over the projected smooth base), so every step is measured against that baseline:
`psnr_base` and `psnr` in the log are the base's and the network's PSNR inside the region on
the training batch, at the network's scale.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from mosaicgan.config import TrainConfig
from mosaicgan.data.mosaic_pairs import MosaicPairs
from mosaicgan.errors import UserError
from mosaicgan.nets import get_net
from mosaicgan.train.precision import Precision


def build_restorer(config: TrainConfig) -> torch.nn.Module:
    n = config.nets
    if n.net_g != "restorer":
        raise UserError(f"the restorer trainer trains net_g='restorer', not {n.net_g!r}")
    return get_net("restorer", width=n.ngf, blocks=n.blocks, scale=n.block_scale)


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weight = mask.expand_as(target)
    return ((prediction - target).abs() * weight).sum() / weight.sum().clamp_min(1.0)


def masked_psnr(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR in dB over the whole batch's region, images in [-1, 1] read as [0, 1]."""
    weight = mask.expand_as(target)
    mse = (((prediction - target) / 2) ** 2 * weight).sum() / weight.sum().clamp_min(1.0)
    return float(10 * torch.log10(1.0 / mse.clamp_min(1e-10)))


class RestorerTask:
    kind = "restorer"
    owns_init = True  # a zero last layer, so that training starts from the classical restoration

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.net = build_restorer(config)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=config.optim.lr,
                                    betas=(config.optim.beta1, config.optim.beta2))
        self.precision = Precision()  # the loop sets the run's (autocast, fp16 scaling, gradient averaging)

    def nets(self) -> dict[str, torch.nn.Module]:
        return {"restorer": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"restorer": self.opt}

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        features, target, mask = batch["features"], batch["target"], batch["mask"]
        self.opt.zero_grad(set_to_none=True)
        output = self.net(features).float()
        loss = masked_l1(output, target, mask)
        self.precision.backward(loss, key="restorer")
        self.precision.step(self.opt, key="restorer")
        with torch.no_grad():
            base = base_of(features, scale=self.net.scale)
            self._last = (base, output.detach(), target)
            return {"loss_l1": loss.detach(), "psnr": masked_psnr(output.detach(), target, mask),
                    "psnr_base": masked_psnr(base, target, mask)}

    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """classical base | network | truth, from the last step."""
        return list(self._last)

    def checkpoint_extra(self) -> dict[str, Any]:
        return {"block_scale": self.net.scale}

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass


def base_of(features: torch.Tensor, *, scale: int) -> torch.Tensor:
    """The classical restoration at the network's scale: the bicubic base of the block means,
    projected onto them where the block is fully inside the region (what the untrained network returns)."""
    means, full = features[:, :3].float(), features[:, 4:5].float()
    base = F.interpolate(means, scale_factor=scale, mode="bicubic", align_corners=False)
    shift = (means - F.avg_pool2d(base, scale)) * full
    return (base + F.interpolate(shift, scale_factor=scale, mode="nearest")).clamp(-1, 1)


def restorer_dataset(config: TrainConfig) -> MosaicPairs:
    m = config.mosaic
    m.check_ranges()
    return MosaicPairs(
        roots=config.data.roots, length=m.samples_per_epoch, lattice=m.lattice, scale=config.nets.block_scale,
        block_min=m.block_min, block_max=m.block_max, rect_prob=m.rect_prob, median_prob=m.median_prob,
        jpeg_prob=m.jpeg_prob, jpeg_quality=(m.jpeg_quality_min, m.jpeg_quality_max), full_prob=m.full_prob,
        grow_prob=m.grow_prob,
    )
