import sys

import pytest

from mosaicgan.config import (
    default_config,
    dumps_toml,
    from_dict,
    load_toml,
    parse_set,
    to_dict,
    valid_keys,
    with_values,
)
from mosaicgan.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def test_toml_round_trip():
    config = with_values(default_config("cyclegan"), {"optim.lr": 1e-3, "data.flip": False, "nets.ngf": 32})
    assert from_dict(tomllib.loads(dumps_toml(config))) == config
    assert from_dict(to_dict(config)) == config


def test_set_coerces_types():
    config = with_values(default_config("pix2pix"), parse_set(["optim.lr=0.001", "data.flip=false", "optim.epochs=3"]))
    assert config.optim.lr == 0.001 and config.data.flip is False and config.optim.epochs == 3


def test_unknown_key_lists_valid_keys():
    with pytest.raises(UserError) as err:
        with_values(default_config("pix2pix"), {"loss.lambda_L1": "10"})
    message = str(err.value)
    assert "loss.lambda_L1" in message and "loss.lambda_l1" in message and "\n" not in message
    assert all(key in message for key in valid_keys())


@pytest.mark.parametrize("item, fragment", [
    ("optim.lr=fast", "expected float"),
    ("loss.gan_mode=wasserstein", "not one of"),
    ("optim.epochs", "key=value"),
])
def test_bad_values_are_clear(item, fragment):
    with pytest.raises(UserError, match=fragment):
        with_values(default_config("pix2pix"), parse_set([item]))


def test_toml_file_with_unknown_key_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('model = "pix2pix"\n[optim]\nlearning_rate = 1.0\n')
    with pytest.raises(UserError, match="bad.toml.*optim.learning_rate"):
        load_toml(path)


def test_model_defaults_differ():
    p, c = default_config("pix2pix"), default_config("cyclegan")
    assert (p.nets.net_g, p.nets.norm, p.loss.gan_mode) == ("unet_256", "batch", "vanilla")
    assert (c.nets.net_g, c.nets.norm, c.loss.gan_mode) == ("resnet_9blocks", "instance", "lsgan")


def test_shipped_presets_load():
    from pathlib import Path

    presets = sorted((Path(__file__).parent.parent / "configs").glob("*.toml"))
    assert presets
    for path in presets:
        config = load_toml(path)
        assert config.model in ("pix2pix", "cyclegan", "restorer", "mosaic_detector", "srgan", "discogan", "dualgan",
                                "unit", "cogan", "dong"), path
