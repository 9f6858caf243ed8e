"""The one table of trainable models. Everything that needs to know the models reads it:
the config (names, per-model defaults, which keys each model reads), the training loop (the
task and its data set, via `train/tasks.py`), `translate`/`eval` (which generator of a
checkpoint runs in which direction) and the `train` command (subcommands and their help).

Adding a model is one `ModelSpec` entry here plus its task file in `train/` (a class with
the `train.task.Task` methods and a function building its data set from a config). Give it
`flags="gan"` to get the pix2pix/CycleGAN command-line flags, or `flags="own"` and write its
subcommand in `cli/` as `cli/train_classifier_cmd.py` does (listed in `cli/train_cmd.OWN_PARSERS`).
`translate` and `eval` take any model whose `generators` name its generator(s).

This module imports nothing heavy (no torch), so `mosaicgan --help` stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Config keys every model reads: the schedule, the optimizer and the run's bookkeeping.
COMMON_KEYS = ("optim.*", "run.*", "data.root", "data.num_workers")

# What the pix2pix-style GAN trainers read (besides COMMON_KEYS and their own losses).
_GAN_DATA = ("data.layout", "data.direction", "data.split", "data.preprocess", "data.load_size",
             "data.crop_size", "data.flip", "data.max_items", "data.decode_cache")
_GAN_NETS = ("nets.net_g", "nets.num_downs", "nets.net_d", "nets.n_layers_d", "nets.ngf", "nets.ndf",
             "nets.norm", "nets.dropout", "nets.dropout_at_test", "nets.upsample", "nets.init",
             "nets.init_gain", "nets.in_channels", "nets.out_channels", "nets.global_skip")
# What every model of the unpaired family reads (domains A and B from trainA/ trainB/ or the like).
_UNPAIRED_DATA = (*_GAN_DATA, "data.serial")
# The adversarial settings the family's tasks all honour (losses/adversarial.py).
_ADVERSARIAL = ("loss.gan_mode", "loss.lambda_gp", "loss.clip_d")
# The networks of the models that generate from a code at one size (data.crop_size).
_LATENT_NETS = ("nets.ngf", "nets.ndf", "nets.norm", "nets.upsample", "nets.init", "nets.init_gain",
                "nets.in_channels", "nets.out_channels", "nets.z_dim")
# Images of the unpaired family, as CycleGAN's.
_UNPAIRED_DEFAULTS = {"data.layout": "unaligned"}
# What CycleGAN's task reads; DiscoGAN and DualGAN are that task with their own networks and losses.
_CYCLE_TASK = (*_UNPAIRED_DATA, *_GAN_NETS, *_ADVERSARIAL, "loss.lambda_cycle", "loss.lambda_identity",
               "loss.pool_size", "loss.cycle_distance", "loss.n_critic")


@dataclass(frozen=True)
class ModelSpec:
    """One trainable model.

    task, dataset: "module:name" of the task class and of its data set builder (both take the
      config), imported only when training starts, so that nothing below `train/` imports it.
    defaults: dotted config keys whose default differs from the dataclasses in config.py.
    uses: the config keys the model reads (besides COMMON_KEYS); "section.*" means the whole
      section. A key outside them set to anything but the model's default is refused, so a
      setting that would change nothing (loss.lambda_cycle for pix2pix) never passes silently.
    generators: direction ("AtoB", "BtoA") -> name of the generator in the model's checkpoints,
      for translate and eval; empty for models that do not translate images.
    flags: "gan" for the shared GAN trainer flags of `mosaicgan train MODEL`; "own" when a
      module in cli/ registers the model's subcommand itself.
    networks: name in the model's checkpoints -> the kind of registered network it must be
      (`nets.registry` kinds), for the networks inference reads; a checkpoint that says it is
      this model but holds other networks is refused in one line when it is read.
    """

    name: str
    summary: str
    task: str
    dataset: str
    uses: tuple[str, ...]
    defaults: dict[str, Any] = field(default_factory=dict)
    generators: dict[str, str] = field(default_factory=dict)
    flags: str = "gan"
    networks: dict[str, str] = field(default_factory=dict)

    def reads(self, key: str) -> bool:
        """Whether the model reads config key `key` ("section.name", or "model")."""
        if key == "model":
            return True
        section = key.split(".", 1)[0]
        return any(pattern in (key, f"{section}.*") for pattern in (*COMMON_KEYS, *self.uses))


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="pix2pix",
            summary="paired translation: U-Net + PatchGAN, L1 + adversarial",
            task="mosaicgan.train.pix2pix:Pix2PixTask",
            dataset="mosaicgan.train.pix2pix:pix2pix_dataset",
            uses=(*_GAN_DATA, *_GAN_NETS, "loss.gan_mode", "loss.lambda_l1", "loss.lambda_gp", "loss.clip_d"),
            generators={"AtoB": "gen"},
            networks={"gen": "generator"},
        ),
        ModelSpec(
            name="cyclegan",
            summary="unpaired translation (trainA/, trainB/): two ResNets + two PatchGANs, cycle + adversarial",
            task="mosaicgan.train.cyclegan:CycleGANTask",
            dataset="mosaicgan.train.cyclegan:cyclegan_dataset",
            uses=_CYCLE_TASK,
            defaults={**_UNPAIRED_DEFAULTS, "nets.net_g": "resnet_9blocks", "nets.norm": "instance",
                      "nets.dropout": False, "loss.gan_mode": "lsgan"},
            generators={"AtoB": "gen_ab", "BtoA": "gen_ba"},
            networks={"gen_ab": "generator", "gen_ba": "generator"},
        ),
        ModelSpec(
            name="discogan",
            summary="unpaired translation (Kim et al. 2017): CycleGAN's task with DiscoGAN's networks and losses",
            task="mosaicgan.train.cyclegan:DiscoGANTask",
            dataset="mosaicgan.train.cyclegan:cyclegan_dataset",
            uses=_CYCLE_TASK,
            # The paper's 64x64 encoder-decoders, batch norm, the original GAN loss, MSE reconstructions
            # weighted as the adversarial terms (the authors' code's rate 0.5), batch 64, Adam 2e-4.
            defaults={**_UNPAIRED_DEFAULTS, "data.load_size": 72, "data.crop_size": 64, "nets.net_g": "discogan_g",
                      "nets.net_d": "discogan_d", "nets.norm": "batch", "nets.dropout": False,
                      "loss.gan_mode": "vanilla", "loss.lambda_cycle": 1.0, "loss.lambda_identity": 0.0,
                      "loss.pool_size": 0, "loss.cycle_distance": "mse", "optim.batch_size": 64},
            generators={"AtoB": "gen_ab", "BtoA": "gen_ba"},
        ),
        ModelSpec(
            name="dualgan",
            summary="unpaired translation (Yi et al. 2017): U-Nets with dropout noise, WGAN critics, RMSProp",
            task="mosaicgan.train.dualgan:DualGANTask",
            dataset="mosaicgan.train.cyclegan:cyclegan_dataset",
            uses=_CYCLE_TASK,
            # U-Net generators with dropout kept at test time, 70x70 PatchGAN critics with WGAN's
            # clipping at 0.01, two critic steps per generator step, L1 reconstructions x 100 (the
            # low end of the paper's 100-1000), RMSProp at 5e-5, batch 1.
            defaults={**_UNPAIRED_DEFAULTS, "nets.net_g": "unet_256", "nets.norm": "instance", "nets.dropout": True,
                      "nets.dropout_at_test": True, "loss.gan_mode": "wgan", "loss.n_critic": 2,
                      "loss.lambda_cycle": 100.0, "loss.lambda_identity": 0.0, "loss.pool_size": 0,
                      "optim.lr": 5e-5},
            generators={"AtoB": "gen_ab", "BtoA": "gen_ba"},
        ),
        ModelSpec(
            name="unit",
            summary="unpaired translation (Liu et al. 2017): two VAE-GANs sharing a latent space",
            task="mosaicgan.train.unit:UNITTask",
            dataset="mosaicgan.train.unit:unit_dataset",
            uses=(*_UNPAIRED_DATA, "nets.net_d", "nets.n_layers_d", "nets.ngf", "nets.ndf", "nets.norm",
                  "nets.dropout", "nets.upsample", "nets.init", "nets.init_gain", "nets.in_channels",
                  "nets.out_channels", "nets.blocks", *_ADVERSARIAL, "loss.lambda_recon", "loss.lambda_kl",
                  "loss.lambda_cycle"),
            # The paper's weights over its GAN weight (recon 10, KL 0.01, cycle 10, cycle KL 0.01),
            # 4 residual blocks a side (one shared), instance norm, LSGAN and Adam 1e-4 as the
            # authors' code, He initialisation.
            defaults={**_UNPAIRED_DEFAULTS, "nets.norm": "instance", "nets.dropout": False, "nets.blocks": 4,
                      "nets.init": "kaiming", "loss.gan_mode": "lsgan", "loss.lambda_recon": 10.0,
                      "loss.lambda_kl": 0.01, "loss.lambda_cycle": 10.0, "optim.lr": 1e-4},
            generators={"AtoB": "gen", "BtoA": "gen"},
        ),
        ModelSpec(
            name="cogan",
            summary="coupled GANs (Liu and Tuzel 2016): pairs from one code; translation by latent inversion",
            task="mosaicgan.train.cogan:CoGANTask",
            dataset="mosaicgan.train.cogan:fixed_size_dataset",
            uses=(*_UNPAIRED_DATA, *_LATENT_NETS, "nets.inversion_steps", *_ADVERSARIAL),
            # DCGAN's networks and settings (batch norm, the original GAN loss, Adam 2e-4, beta1 0.5),
            # batch 64 as DCGAN's.
            defaults={**_UNPAIRED_DEFAULTS, "data.load_size": 143, "data.crop_size": 128, "nets.norm": "batch",
                      "nets.dropout": False, "loss.gan_mode": "vanilla", "optim.batch_size": 64},
            generators={"AtoB": "gen", "BtoA": "gen"},
        ),
        ModelSpec(
            name="dong",
            summary="c-GAN + encoder (Dong et al. 2017), in stages: gan, encoder, joint (dong.stage)",
            task="mosaicgan.train.dong:DongTask",
            dataset="mosaicgan.train.cogan:fixed_size_dataset",
            uses=(*_UNPAIRED_DATA, *_LATENT_NETS, "nets.net_d", "nets.n_layers_d", *_ADVERSARIAL,
                  "loss.lambda_recon", "dong.*"),
            defaults={**_UNPAIRED_DEFAULTS, "data.load_size": 143, "data.crop_size": 128, "nets.norm": "batch",
                      "nets.dropout": False, "loss.gan_mode": "vanilla", "loss.lambda_recon": 1.0,
                      "optim.batch_size": 64},
            generators={"AtoB": "gen", "BtoA": "gen"},
        ),
        ModelSpec(
            name="classifier",
            summary="fine-tune MobileNetV2 on class folders, for --cam",
            task="mosaicgan.train.classifier:ClassifierTask",
            dataset="mosaicgan.train.classifier:classifier_dataset",
            uses=("data.load_size", "data.crop_size", "data.flip", "data.val_fraction", "nets.classifier",
                  "nets.pretrained", "nets.freeze_features", "nets.dropout"),
            # Fine-tuning: a pretrained network, most of it frozen, Adam with the usual beta1 and
            # a learning rate for a new head; images resized by their short side, as at inference.
            defaults={"data.load_size": 256, "data.crop_size": 224, "data.num_workers": 0,
                      "nets.freeze_features": 14, "optim.lr": 1e-3, "optim.beta1": 0.9, "optim.epochs": 4,
                      "optim.epochs_decay": 4, "optim.batch_size": 16, "run.log_every": 10,
                      "run.sample_every": 200, "run.keep_every_epochs": 0},
            flags="own",
            networks={"classifier": "classifier"},
        ),
        ModelSpec(
            name="restorer",
            summary="the mosaic restorer used by `remove`, trained on clean photos",
            task="mosaicgan.train.restorer:RestorerTask",
            dataset="mosaicgan.train.restorer:restorer_dataset",
            uses=("nets.net_g", "nets.ngf", "nets.blocks", "nets.block_scale", "mosaic.*"),
            # A small lattice network (see nets.restorer) trained with L1 on pairs made on the
            # fly; Adam with the usual SR settings. An epoch is mosaic.samples_per_epoch samples.
            defaults={"data.num_workers": 0, "nets.net_g": "restorer", "nets.ngf": 48, "nets.norm": "none",
                      "nets.dropout": False, "optim.lr": 5e-4, "optim.beta1": 0.9, "optim.epochs": 30,
                      "optim.epochs_decay": 10, "optim.batch_size": 16, "run.log_every": 20,
                      "run.save_every": 200, "run.keep_every_epochs": 5},
            flags="own",
            networks={"restorer": "restorer"},
        ),
        ModelSpec(
            name="mosaic_detector",
            summary="the mosaic detector used by `remove` without --mask, trained on clean photos",
            task="mosaicgan.train.mosaic_detector:DetectorTask",
            dataset="mosaicgan.train.mosaic_detector:detector_dataset",
            uses=("data.crop_size", "nets.net_g", "nets.ngf", "mosaic.block_min", "mosaic.block_max",
                  "mosaic.rect_prob", "mosaic.clean_prob", "mosaic.full_prob", "mosaic.jpeg_prob",
                  "mosaic.jpeg_quality_min", "mosaic.jpeg_quality_max", "mosaic.samples_per_epoch", "mosaic.recipes",
                  "mosaic.box_prob"),
            # A small strided segmentation network (see nets.mosaic_detector), BCE on crops made on
            # the fly; an epoch is mosaic.samples_per_epoch samples.
            defaults={"data.num_workers": 0, "data.crop_size": 192, "nets.net_g": "mosaic_detector", "nets.ngf": 24,
                      "mosaic.block_max": 40, "mosaic.rect_prob": 0.25, "mosaic.full_prob": 0.05,
                      "mosaic.jpeg_prob": 0.6, "mosaic.jpeg_quality_min": 50, "optim.lr": 2e-3, "optim.beta1": 0.9,
                      "optim.epochs": 20, "optim.epochs_decay": 10, "optim.batch_size": 12, "run.log_every": 20,
                      "run.save_every": 200, "run.keep_every_epochs": 5},
            flags="own",
            networks={"detector": "segmenter"},
        ),
        ModelSpec(
            name="srgan",
            summary="super-resolution x2/x4: SRResNet (stage mse), then SRGAN (stage gan), on photos",
            task="mosaicgan.train.srgan:SRGANTask",
            dataset="mosaicgan.train.srgan:srgan_dataset",
            uses=("srgan.*",),
            # The paper's Adam (beta1 0.9, lr 1e-4, batch 16); an epoch is srgan.samples_per_epoch crops.
            defaults={"data.num_workers": 0, "optim.lr": 1e-4, "optim.beta1": 0.9, "optim.epochs": 50,
                      "optim.epochs_decay": 50, "optim.batch_size": 16, "run.log_every": 20,
                      "run.sample_every": 500, "run.save_every": 200, "run.keep_every_epochs": 10},
            flags="own",
            networks={"gen": "upscaler"},
        ),
    )
}


def model_spec(name: str) -> ModelSpec:
    """The table entry of `name`; a ValueError listing the models for any other name (callers
    that take the name from the user check it first, with a UserError)."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}") from None
