"""DualGAN (Yi, Zhang, Tan and Gong 2017): CycleGAN's structure (two generators, two critics, a
reconstruction term each way) with the Wasserstein GAN's objective and optimizer.

What differs from CycleGAN is all in settings (the model table, `mosaicgan.models`) except the
optimizer, which is this file: RMSProp, as the paper (following WGAN, whose critic is kept
Lipschitz by clipping its weights: `loss.gan_mode` wgan, `loss.clip_d`) recommends against
momentum-based ones. The generators are U-Nets with dropout, kept on at test time, which is
DualGAN's source of randomness (`translate --samples K`).
"""

from __future__ import annotations

import torch

from mosaicgan.config import TrainConfig
from mosaicgan.train.cyclegan import CycleGANTask


class DualGANTask(CycleGANTask):
    kind = "dualgan"

    @staticmethod
    def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(params, lr=config.optim.lr)
