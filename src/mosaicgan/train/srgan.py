"""Super-resolution in SRGAN's two stages (Ledig et al., 2017), on pairs made on the fly.

stage "mse": the generator (nets.srresnet) alone, on pixel MSE: the SRResNet of the paper.
stage "gan": from a stage-1 checkpoint (`--init-from`, run.init_from), the generator on content loss (features
of a fixed network, train.sr_features) + `adversarial_weight` (the paper's 1e-3) x the
adversarial loss of SRGAN's discriminator, trained beside it with binary cross-entropy.

Every log line has `psnr` and `psnr_bicubic` (RGB, on the training batch); with `srgan.eval_data`
each epoch end scores a folder of HR images (Y channel, `scale` pixels of border cropped, as the
literature does) for the network and for bicubic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.checkpoint import read_metadata
from mosaicgan.config import SRGANConfig, TrainConfig
from mosaicgan.data.images import list_images, pil_to_tensor, read_image
from mosaicgan.data.sr_pairs import SRPairs
from mosaicgan.errors import UserError
from mosaicgan.losses.adversarial import discriminator_loss, generator_loss
from mosaicgan.losses.content import content_loss
from mosaicgan.metrics import psnr, psnr_y, ssim_y
from mosaicgan.nets import get_net
from mosaicgan.ops.sr import crop_to_multiple, downscale, upscale_bicubic
from mosaicgan.train.sr_features import feature_network
from mosaicgan.train.task import set_requires_grad

# Keys that only stage gan reads: set away from their defaults in stage mse they would change nothing.
_GAN_KEYS = ("features", "feature_layer", "content_weight", "adversarial_weight", "mse_weight", "ndf")
# Config keys that fix the generator's architecture (in stage gan they must match run.init_from's).
_ARCH_KEYS = ("scale", "blocks", "width", "upsampler", "global_skip")


def build_generator(config: TrainConfig) -> nn.Module:
    s = config.srgan
    return get_net("srresnet", scale=s.scale, blocks=s.blocks, width=s.width, upsampler=s.upsampler,
                   global_skip=s.global_skip)


def check_stage_one(config: TrainConfig) -> None:
    """Stage gan starts from a stage-1 checkpoint (run.init_from, which loads the weights) built
    with the same architecture: a global_skip or upsampler that differs would load without a
    shape error and silently compute something else."""
    s = config.srgan
    if not config.run.init_from:
        raise UserError("srgan.stage=gan starts from a stage-1 (mse) checkpoint: give --init-from RUN_DIR "
                        "(the stage-1 run folder or a checkpoint of it)")
    specs = json.loads(read_metadata(config.run.init_from)["nets"])
    stored = specs.get("gen", {}).get("kwargs", {})
    for key in _ARCH_KEYS:
        if key in stored and stored[key] != getattr(s, key):
            raise UserError(f"srgan.{key} = {getattr(s, key)!r}, but the stage-1 checkpoint has {stored[key]!r}; "
                            "use the stage-1 config", path=config.run.init_from)


def load_hr_folder(folder: str | Path, *, scale: int) -> list[torch.Tensor]:
    """Every image in `folder` as (1, 3, H, W) in [-1, 1], cropped to multiples of `scale`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError("not a folder", path=folder)
    return [crop_to_multiple(pil_to_tensor(read_image(p, mode="RGB"))[None], scale) for p in list_images(folder)]


class SRGANTask:
    kind = "srgan"
    owns_init = True  # PyTorch's default (He) initialisation (and, with global_skip, a zero last layer)

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        s = config.srgan
        self.scale = s.scale
        self.gan = s.stage == "gan"
        betas = (config.optim.beta1, config.optim.beta2)
        if self.gan:
            check_stage_one(config)
        else:
            defaults = SRGANConfig()
            for key in _GAN_KEYS:
                if getattr(s, key) != getattr(defaults, key):
                    raise UserError(f"srgan.{key} applies to srgan.stage=gan only; remove it (or set srgan.stage=gan)")
        self.gen = build_generator(config)  # stage gan: the loop loads run.init_from's weights into it
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=config.optim.lr, betas=betas)
        if self.gan:
            self.disc = get_net("srgan_d", kind="discriminator", ndf=s.ndf)
            self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=config.optim.lr, betas=betas)
            self.features = feature_network(s.features, layer=s.feature_layer)
        self._eval_images: list[torch.Tensor] | None = None
        self._last: list[torch.Tensor] = []

    def nets(self) -> dict[str, nn.Module]:
        return {"gen": self.gen, "disc": self.disc} if self.gan else {"gen": self.gen}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"gen": self.opt_g, "disc": self.opt_d} if self.gan else {"gen": self.opt_g}

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        lr, hr = batch["lr"], batch["hr"]
        s = self.config.srgan
        losses: dict[str, float] = {}
        fake = self.gen(lr).float()
        if self.gan:
            self.features.to(hr.device)
            set_requires_grad([self.disc], True)
            self.opt_d.zero_grad(set_to_none=True)
            d_real, d_fake = discriminator_loss(self.disc(hr).float(), self.disc(fake.detach()).float(), mode="vanilla")
            (d_real + d_fake).backward()
            self.opt_d.step()
            set_requires_grad([self.disc], False)
            content = content_loss(self.features, fake, hr)
            adversarial = generator_loss(self.disc(fake).float(), mode="vanilla")
            pixel = F.mse_loss(fake, hr)
            loss = s.content_weight * content + s.adversarial_weight * adversarial + s.mse_weight * pixel
            losses = {"loss_d_real": d_real.item(), "loss_d_fake": d_fake.item(), "loss_content": content.item(),
                      "loss_adv": adversarial.item()}
        else:
            loss = F.mse_loss(fake, hr)
            losses = {"loss_mse": loss.item()}
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        with torch.no_grad():
            bicubic = upscale_bicubic(lr, self.scale)
            out = fake.detach().clamp(-1, 1)
            self._last = [bicubic, out, hr]
            losses.update(psnr=float(psnr(out, hr).mean()), psnr_bicubic=float(psnr(bicubic, hr).mean()))
        return losses

    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """bicubic | network | truth, from the last step."""
        return list(self._last)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        folder = self.config.srgan.eval_data
        if not folder:
            return {}
        if self._eval_images is None:
            self._eval_images = load_hr_folder(folder, scale=self.scale)
        device = next(self.gen.parameters()).device
        self.gen.eval()
        scores: dict[str, list[float]] = {"eval_psnr_y": [], "eval_ssim_y": [], "eval_psnr_y_bicubic": []}
        try:
            for hr in self._eval_images:
                hr = hr.to(device)
                small = downscale(hr, self.scale)
                out = self.gen(small).float().clamp(-1, 1)
                scores["eval_psnr_y"].append(float(psnr_y(out, hr, border=self.scale)))
                scores["eval_ssim_y"].append(float(ssim_y(out, hr, border=self.scale)))
                scores["eval_psnr_y_bicubic"].append(float(psnr_y(upscale_bicubic(small, self.scale), hr,
                                                                   border=self.scale)))
        finally:
            self.gen.train()
        return {k: round(sum(v) / len(v), 4) for k, v in scores.items()}

    def checkpoint_extra(self) -> dict[str, Any]:
        return {"scale": self.scale, "stage": self.config.srgan.stage}

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass


def srgan_dataset(config: TrainConfig) -> SRPairs:
    s = config.srgan
    if s.patch % s.scale:
        raise UserError(f"srgan.patch ({s.patch}) must be a multiple of srgan.scale ({s.scale})")
    if s.stage == "gan" and s.patch < 16:
        raise UserError(f"srgan.patch ({s.patch}) must be at least 16 for the discriminator")
    try:
        return SRPairs(roots=config.data.roots, length=s.samples_per_epoch, scale=s.scale, patch=s.patch)
    except ValueError as err:
        raise UserError(f"{err} (srgan.patch = {s.patch}); use smaller crops or larger photos") from None
