"""Training configuration: frozen dataclasses per concern, loaded from / saved to TOML.

Precedence when a run starts: the model's defaults < `--config FILE.toml` < command-line
flags < `--set section.key=value`. Unknown keys are errors that list the valid ones, so a
typo never silently trains the wrong model, and a key the chosen model does not read
(`check_model_keys`, e.g. loss.lambda_cycle for pix2pix) is refused when a run starts.
The models, their defaults and the keys each reads live in `mosaicgan.models`; the lists of
choices (GAN modes, norms, ...) in `mosaicgan.choices`. A run folder keeps its `config.toml`; `--resume`
reads it back, and every checkpoint carries it as JSON.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mosaicgan import choices
from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError
from mosaicgan.models import MODELS, model_spec
from mosaicgan.validate import check_config_value

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published as tomli before it joined the standard library
    import tomli as tomllib


@dataclass(frozen=True)
class DataConfig:
    root: str = ""
    # auto | aligned (A|B side by side) | folders (A/ and B/, matching names) | unaligned (trainA/ trainB/)
    layout: str = "auto"
    direction: str = "AtoB"
    split: str = "train"
    # resize_and_crop | crop | scale_width | scale_width_and_crop | none
    preprocess: str = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    serial: bool = False  # unaligned: take B in order instead of at random
    max_items: int = 0  # 0 = all
    num_workers: int = -1  # loader processes; -1: one fewer than the usable CPUs, at most 4
    # pix2pix/CycleGAN: decode (and resize) each file once into RUN/cache/ (data/decode_cache.py)
    decode_cache: bool = True
    val_fraction: float = 0.2  # classifier: share of each class's images held out for validation

    @property
    def roots(self) -> list[str]:
        """data.root as a list: photo-folder trainers take several folders, joined with the OS
        path separator (os.pathsep)."""
        return [r for r in self.root.split(os.pathsep) if r]


@dataclass(frozen=True)
class NetsConfig:
    net_g: str = "unet_256"
    num_downs: int = 8  # for net_g = "unet": levels; inputs must be multiples of 2**num_downs
    net_d: str = "patchgan"
    n_layers_d: int = 3  # for net_d = "patchgan": 0 pixel, 1 16x16, 3 70x70, 5 286x286
    ngf: int = 64
    ndf: int = 64
    norm: str = "batch"
    dropout: bool = True
    dropout_at_test: bool = False  # DualGAN-style noise: keep dropout on in translate
    upsample: str = "deconv"  # generators: deconv (the reference) | resize (nearest x2 + conv: no checkerboard)
    init: str = "normal"
    init_gain: float = 0.02
    in_channels: int = 3
    out_channels: int = 3
    pretrained: bool = True  # classifier: start from the shipped ImageNet MobileNetV2
    freeze_features: int = 0  # classifier: leading feature blocks (of 19) kept frozen
    classifier: str = "mobilenet_v2"  # classifier: the network fine-tuned (the one with shipped weights)
    blocks: int = 6  # restorer: residual blocks on the block lattice (width: ngf)
    block_scale: int = 8  # restorer: pixels per block side at the network (any block is resampled to it)
    global_skip: bool = False  # resnet generators: output = input + a learned change (starts as the identity)
    z_dim: int = 64  # cogan, dong: size of the latent code the generators start from (images: data.crop_size)
    inversion_steps: int = 200  # cogan: optimisation steps that find the latent code of an image to translate


@dataclass(frozen=True)
class LossConfig:
    gan_mode: str = "vanilla"  # vanilla | lsgan | hinge | wgan-gp
    lambda_l1: float = 100.0
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5  # times lambda_cycle; 0 turns it off
    lambda_gp: float = 10.0
    pool_size: int = 50
    cycle_distance: str = "l1"  # l1 | mse: how cycle and identity reconstructions are measured
    clip_d: float = 0.01  # gan_mode wgan: the critic's weights are clipped to [-clip_d, clip_d]
    n_critic: int = 1  # discriminator steps per generator step (the generator steps every n_critic-th iteration)
    lambda_recon: float = 10.0  # unit: L1 of each domain's own reconstruction (the VAE term); dong: of real images
    lambda_kl: float = 0.01  # unit: the KL term of the shared latent code (of images and of their translations)


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    epochs: int = 100  # at the initial learning rate
    epochs_decay: int = 100  # then linear decay to 0
    batch_size: int = 1


@dataclass(frozen=True)
class MosaicConfig:
    """How the restorer's training pairs are made from clean photos (data.root: one or more
    folders, separated by the OS path separator)."""

    lattice: int = 16  # blocks per side of a training crop
    block_min: int = 4  # block sizes are log-uniform in [block_min, block_max]
    block_max: int = 32
    rect_prob: float = 0.2  # share of rectangular blocks (aspect up to 1.5)
    median_prob: float = 0.1  # share of median mosaics (the rest: average); only when recipes is ""
    # The recipe mix (data/recipe_mix.py): "default", or "mean:0.5,nearest:0.5"; "" keeps the
    # styles of the first shipped models (restorer: average and median_prob; detector: average,
    # median, random pixel), so that runs started before recipes existed resume as they were.
    recipes: str = ""
    box_prob: float = 0.0  # with recipes: share of regions that are rectangles on the grid (a pixelated crop)
    jpeg_prob: float = 0.3  # share re-encoded as JPEG after mosaicking
    jpeg_quality_min: int = 60
    jpeg_quality_max: int = 95
    full_prob: float = 0.1  # share of crops mosaicked all over
    grow_prob: float = 0.3  # share whose given mask is grown beyond the mosaic (by up to a block)
    clean_prob: float = 0.35  # detector: share of crops left clean (the negatives)
    samples_per_epoch: int = 3200

    def check_ranges(self) -> None:
        """The pairs of bounds every mosaic sampler reads, each in order (UserError if not)."""
        if not 2 <= self.block_min <= self.block_max:
            raise UserError(f"mosaic.block_min/block_max must satisfy 2 <= min <= max, got {self.block_min}, "
                            f"{self.block_max}")
        if self.jpeg_quality_min > self.jpeg_quality_max:
            raise UserError(f"mosaic.jpeg_quality_min ({self.jpeg_quality_min}) is above mosaic.jpeg_quality_max "
                            f"({self.jpeg_quality_max})")


@dataclass(frozen=True)
class SRGANConfig:
    """Super-resolution (SRResNet / SRGAN, see nets.srresnet and train.srgan). Pairs are made on
    the fly from the high-resolution photos under data.root (folders separated by the OS path
    separator): random crops of `patch` pixels, flips, bicubic downscale with antialiasing."""

    stage: str = "mse"  # mse: SRResNet on pixel MSE | gan: content + adversarial, from a stage-1 checkpoint
    scale: int = 4
    blocks: int = 16
    width: int = 64
    # subpixel (the paper) | espcn (one pixel shuffle at low resolution) | resize (nearest x2 + conv,
    # twice: no sub-pixel kernels, so nothing ties an artifact to the 4-pixel lattice)
    upsampler: str = "subpixel"
    global_skip: bool = False  # predict the residual over bicubic (faster convergence)
    patch: int = 96  # high-resolution crop side (a multiple of scale)
    samples_per_epoch: int = 3200
    features: str = "mobilenet_v2"  # content loss network: mobilenet_v2 (shipped) | vgg19:/path/vgg19.pth
    feature_layer: str = "auto"  # mobilenet_v2: block6 (default) | vgg19: relu5_4 (default) or relu2_2
    content_weight: float = 1.0
    adversarial_weight: float = 1e-3
    mse_weight: float = 0.0  # stage gan: optional pixel MSE beside the content loss
    ndf: int = 64  # discriminator width
    eval_data: str = ""  # a folder of HR images (e.g. Set5) scored at every epoch end (Y PSNR vs bicubic)


@dataclass(frozen=True)
class DongConfig:
    """The c-GAN + encoder method of Dong et al. 2017 (train/dong.py), in three stages, each its own
    run started from the last (`--init-from`)."""

    stage: str = "gan"  # gan: the domain-conditional GAN | encoder: the encoder, generator fixed | joint: both
    lambda_latent: float = 1.0  # encoder, joint: MSE between a generated image's code and the code it came from


@dataclass(frozen=True)
class RunConfig:
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    log_every: int = 50
    sample_every: int = 500
    save_every: int = 1000  # iterations; a checkpoint is also written at every epoch end
    keep_every_epochs: int = 10  # also keep epoch_NNN.safetensors this often (0: never)
    precision: str = "auto"  # auto (bf16 where native, else fp32; resolved at the start) | fp32 | bf16 | fp16
    channels_last: bool = False  # NHWC networks and batches (measured no faster on an AVX512 CPU; see README)
    compile: bool = False  # torch.compile the networks (minutes of compiling first; the CPU needs a C++ compiler)
    keep_freed_memory: bool = True  # CPU, glibc: reuse freed activation memory, no page faults per step (levers.py)
    # CPU: convolutions over <= 256 output positions as one matrix product (ops/conv_gemm.py)
    small_map_gemm: bool = True
    branches: bool = True  # CPU, >= 2 threads: a step's two independent parts side by side (train/branches.py)
    init_from: str = ""  # a checkpoint of the same model whose networks start this run (fine-tuning)


@dataclass(frozen=True)
class TrainConfig:
    model: str = "pix2pix"
    data: DataConfig = field(default_factory=DataConfig)
    nets: NetsConfig = field(default_factory=NetsConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    mosaic: MosaicConfig = field(default_factory=MosaicConfig)
    srgan: SRGANConfig = field(default_factory=SRGANConfig)
    dong: DongConfig = field(default_factory=DongConfig)


SECTIONS = ("data", "nets", "loss", "optim", "run", "mosaic", "srgan", "dong")

CHOICES = {
    "model": tuple(MODELS),
    "data.layout": choices.LAYOUTS,
    "data.direction": choices.DIRECTIONS,
    "data.preprocess": choices.PREPROCESS,
    "nets.norm": choices.NORMS,
    "nets.init": choices.INITS,
    "nets.upsample": choices.UPSAMPLES,
    "loss.gan_mode": choices.GAN_MODES,
    "loss.cycle_distance": choices.CYCLE_DISTANCES,
    "run.precision": choices.PRECISIONS,
    "srgan.stage": choices.SR_STAGES,
    "srgan.scale": choices.SR_SCALES,
    "srgan.upsampler": choices.SR_UPSAMPLERS,
    "dong.stage": choices.DONG_STAGES,
}


def default_config(model: str) -> TrainConfig:
    """Each model's defaults (as in the reference implementations): the dataclasses above with
    the model's `defaults` from the table in `mosaicgan.models`."""
    if model not in MODELS:
        raise UserError(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}")
    return with_values(TrainConfig(model=model), model_spec(model).defaults)


def check_model_keys(config: TrainConfig) -> None:
    """Refuse a key the model does not read that is set away from the model's default: it
    would change nothing, and the user who set it believes it does."""
    spec = model_spec(config.model)
    defaults = default_config(config.model)
    for key in valid_keys(config):
        if spec.reads(key):
            continue
        section, name = key.split(".", 1)
        value = getattr(getattr(config, section), name)
        if value != getattr(getattr(defaults, section), name):
            readers = [m for m, s in MODELS.items() if s.reads(key)]
            where = f" (it applies to {', '.join(readers)})" if readers else ""
            raise UserError(f"{key} = {value!r}: {config.model} does not use this key{where}; remove it")


def valid_keys(config: TrainConfig | None = None) -> list[str]:
    config = config or TrainConfig()
    keys = ["model"]
    for section in SECTIONS:
        keys += [f"{section}.{f.name}" for f in fields(getattr(config, section))]
    return keys


def _coerce(key: str, value: Any, current: Any) -> Any:
    """Convert a TOML value or a --set string to the type of the field it replaces."""
    kind = type(current)
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                value = text.lower() in ("true", "1", "yes")
            else:
                value = kind(text)
        except ValueError:
            raise UserError(f"{key}: expected {kind.__name__}, got {value!r}") from None
    elif kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not kind:
        raise UserError(f"{key}: expected {kind.__name__}, got {value!r}")
    choices = CHOICES.get(key)
    if choices and value not in choices:
        raise UserError(f"{key}: {value!r} is not one of {', '.join(choices)}")
    check_config_value(key, value)
    return value


def with_values(config: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """Return `config` with dotted keys replaced (`{"optim.lr": 1e-4}`); unknown keys are errors."""
    keys = valid_keys(config)
    sections: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in values.items():
        if key not in keys:
            raise UserError(f"unknown config key {key!r}; valid keys: {', '.join(keys)}")
        if "." in key:
            section, name = key.split(".", 1)
            current = getattr(getattr(config, section), name)
            sections.setdefault(section, {})[name] = _coerce(key, value, current)
        else:
            top[key] = _coerce(key, value, getattr(config, key))
    for section, changes in sections.items():
        top[section] = replace(getattr(config, section), **changes)
    return replace(config, **top)


def parse_set(items: list[str]) -> dict[str, str]:
    """`["optim.lr=1e-4", ...]` -> `{"optim.lr": "1e-4"}`."""
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects key=value, got {item!r}")
        values[key.strip()] = value
    return values


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def load_toml(path: str | Path, *, base: TrainConfig | None = None) -> TrainConfig:
    """Apply a TOML file on top of `base` (or on top of its own `model`'s defaults)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("no such config file", path=path) from None
    except IsADirectoryError:
        raise UserError("is a folder, not a TOML config file", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"not a valid TOML file ({err})", path=path) from None
    flat = flatten(data)
    if base is None:
        base = default_config(str(flat.get("model", "pix2pix")))
    try:
        return with_values(base, flat)
    except UserError as err:
        raise UserError(str(err), path=path) from None


def to_dict(config: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def from_dict(data: dict[str, Any]) -> TrainConfig:
    """Inverse of `to_dict` (used on the config stored in checkpoints)."""
    return with_values(default_config(data.get("model", "pix2pix")), flatten(data))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"cannot write {value!r} as TOML")


def dumps_toml(config: TrainConfig) -> str:
    lines = [f"model = {_toml_value(config.model)}"]
    for section in SECTIONS:
        lines += ["", f"[{section}]"]
        for f in fields(getattr(config, section)):
            lines.append(f"{f.name} = {_toml_value(getattr(getattr(config, section), f.name))}")
    return "\n".join(lines) + "\n"


def save_toml(config: TrainConfig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(dumps_toml(config), encoding="utf-8")
    return path
