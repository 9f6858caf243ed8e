"""The one table of models: what reads it, and the keys a model does not use."""

import subprocess
import sys

import pytest

from mosaicgan import choices
from mosaicgan.cli import build_parser, main
from mosaicgan.config import check_model_keys, default_config, valid_keys, with_values
from mosaicgan.errors import UserError
from mosaicgan.models import MODELS, model_spec


def test_every_model_has_a_task_a_data_set_and_a_train_subcommand():
    from mosaicgan.train.tasks import TASKS

    assert set(TASKS) == set(MODELS)
    for task_class, dataset_builder in TASKS.values():
        assert callable(task_class) and callable(dataset_builder)
    train = next(a for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions
                 if a.dest == "model")
    assert set(train.choices) == set(MODELS)
    for name, spec in MODELS.items():
        assert TASKS[name][0].kind == name
        assert all(direction in choices.DIRECTIONS for direction in spec.generators)


def test_every_key_a_model_uses_exists():
    keys = set(valid_keys())
    for spec in MODELS.values():
        for pattern in spec.uses:
            assert pattern in keys or pattern.endswith(".*"), (spec.name, pattern)
        assert set(spec.defaults) <= keys


@pytest.mark.parametrize("model, key, value, fragment", [
    ("pix2pix", "loss.lambda_cycle", 5.0, "cyclegan"),
    ("pix2pix", "loss.pool_size", 10, "cyclegan"),
    ("cyclegan", "loss.lambda_l1", 50.0, "pix2pix"),
    ("classifier", "nets.net_g", "unet", "pix2pix"),
    ("classifier", "loss.gan_mode", "hinge", "pix2pix"),
    ("pix2pix", "nets.freeze_features", 3, "classifier"),
])
def test_a_key_the_model_ignores_is_refused(model, key, value, fragment):
    config = with_values(default_config(model), {key: value})
    with pytest.raises(UserError) as err:
        check_model_keys(config)
    message = str(err.value)
    assert key in message and f"{model} does not use" in message and fragment in message


def test_ignored_keys_at_their_defaults_and_used_keys_pass():
    check_model_keys(with_values(default_config("pix2pix"), {"loss.lambda_cycle": 10.0, "loss.lambda_l1": 50.0}))
    check_model_keys(with_values(default_config("cyclegan"), {"loss.lambda_cycle": 5.0, "data.serial": True}))
    check_model_keys(with_values(default_config("classifier"), {"nets.freeze_features": 3, "nets.classifier": "x"}))


def test_the_cli_refuses_an_ignored_key_before_writing(capsys, tmp_path):
    code = main(["train", "pix2pix", "--data", str(tmp_path), "--out", str(tmp_path / "run"),
                 "--set", "loss.lambda_cycle=3"])
    err = capsys.readouterr().err
    assert code == 2 and "loss.lambda_cycle" in err and "pix2pix does not use" in err
    assert not (tmp_path / "run").exists()


def test_classifier_network_has_its_own_key():
    config = default_config("classifier")
    assert config.nets.classifier == "mobilenet_v2"
    assert config.nets.net_g == default_config("pix2pix").nets.net_g  # not reused for the classifier


def test_unknown_model():
    with pytest.raises(UserError, match="pix2pix, cyclegan"):
        default_config("stylegan")
    with pytest.raises(ValueError, match="stylegan"):
        model_spec("stylegan")


def test_inference_does_not_import_training():
    code = ("import sys\n"
            "import mosaicgan.cli.translate_cmd, mosaicgan.cli.eval_cmd, mosaicgan.cli.add_cmd, "
            "mosaicgan.cli.make_pairs_cmd\n"
            "import mosaicgan.infer.add.files, mosaicgan.infer.translate.files, mosaicgan.infer.translate.evaluate, "
            "mosaicgan.infer.make_pairs, mosaicgan.device\n"
            "print(sorted(m for m in sys.modules if m.startswith('mosaicgan.train')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_import_circle_between_the_train_commands():
    # train_cmd registers the classifier's subcommand, so the classifier's module must not need train_cmd.
    code = ("import sys, mosaicgan.cli.train_classifier_cmd\n"
            "print('mosaicgan.cli.train_cmd' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_resolve_device():
    from mosaicgan.device import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device(None).type in ("cpu", "cuda")
    with pytest.raises(UserError, match="nosuch"):
        resolve_device("nosuch")
