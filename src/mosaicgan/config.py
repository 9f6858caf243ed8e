"""Training configuration: frozen dataclasses per concern, loaded from / saved to TOML.

Precedence when a run starts: the model's defaults < `--config FILE.toml` < command-line
flags < `--set section.key=value`. Unknown keys are errors that list the valid ones, so a
typo never silently trains the wrong model. A run folder keeps its `config.toml`; `--resume`
reads it back, and every checkpoint carries it as JSON.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published as tomli before it joined the standard library
    import tomli as tomllib

MODELS = ("pix2pix", "cyclegan", "classifier")


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
    num_workers: int = 2
    val_fraction: float = 0.2  # classifier: share of each class's images held out for validation


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


@dataclass(frozen=True)
class LossConfig:
    gan_mode: str = "vanilla"  # vanilla | lsgan | hinge | wgan-gp
    lambda_l1: float = 100.0
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5  # times lambda_cycle; 0 turns it off
    lambda_gp: float = 10.0
    pool_size: int = 50


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    epochs: int = 100  # at the initial learning rate
    epochs_decay: int = 100  # then linear decay to 0
    batch_size: int = 1


@dataclass(frozen=True)
class RunConfig:
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    log_every: int = 50
    sample_every: int = 500
    save_every: int = 1000  # iterations; a checkpoint is also written at every epoch end
    keep_every_epochs: int = 10  # also keep epoch_NNN.safetensors this often (0: never)


@dataclass(frozen=True)
class TrainConfig:
    model: str = "pix2pix"
    data: DataConfig = field(default_factory=DataConfig)
    nets: NetsConfig = field(default_factory=NetsConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)


SECTIONS = ("data", "nets", "loss", "optim", "run")

CHOICES = {
    "model": MODELS,
    "data.layout": ("auto", "aligned", "folders", "unaligned"),
    "data.direction": ("AtoB", "BtoA"),
    "data.preprocess": ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"),
    "nets.norm": ("batch", "instance", "none"),
    "nets.init": ("normal", "xavier", "kaiming", "orthogonal"),
    "nets.upsample": ("deconv", "resize"),
    "loss.gan_mode": ("vanilla", "lsgan", "hinge", "wgan-gp"),
}


def default_config(model: str) -> TrainConfig:
    """Each model's defaults, as in the reference implementations."""
    if model == "pix2pix":
        return TrainConfig(model="pix2pix")
    if model == "cyclegan":
        return TrainConfig(
            model="cyclegan",
            data=DataConfig(layout="unaligned"),
            nets=NetsConfig(net_g="resnet_9blocks", norm="instance", dropout=False),
            loss=LossConfig(gan_mode="lsgan"),
        )
    if model == "classifier":
        # Fine-tuning: a pretrained network, most of it frozen, Adam with the usual beta1 and
        # a learning rate for a new head; images resized by their short side, as at inference.
        # nets.net_g names the network trained; only mobilenet_v2 has pretrained weights.
        return TrainConfig(
            model="classifier",
            data=DataConfig(load_size=256, crop_size=224, num_workers=0),
            nets=NetsConfig(net_g="mobilenet_v2", freeze_features=14, dropout=True),
            optim=OptimConfig(lr=1e-3, beta1=0.9, epochs=4, epochs_decay=4, batch_size=16),
            run=RunConfig(log_every=10, sample_every=200, keep_every_epochs=0),
        )
    raise UserError(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}")


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
