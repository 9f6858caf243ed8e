import pytest
import torch

from conftest import tiny_pix2pix_config
from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.cli import main
from mosaicgan.config import with_values
from mosaicgan.errors import UserError
from mosaicgan.train.init_from import init_from_checkpoint
from mosaicgan.train.pix2pix import Pix2PixTask


def test_networks_start_from_the_checkpoint(toy_data, tiny_run):
    task = Pix2PixTask(tiny_pix2pix_config(toy_data))
    saved = load_checkpoint(tiny_run).nets
    assert not torch.equal(next(iter(task.nets()["gen"].parameters())), next(iter(saved["gen"].parameters())))
    assert sorted(init_from_checkpoint(task.nets(), tiny_run, model="pix2pix")) == sorted(saved)
    for name, net in task.nets().items():
        for (key, value), (key2, value2) in zip(net.state_dict().items(), saved[name].state_dict().items(),
                                                strict=True):
            assert key == key2 and torch.equal(value, value2)


def test_a_checkpoint_that_does_not_fit_is_one_line(toy_data, tiny_run):
    task = Pix2PixTask(with_values(tiny_pix2pix_config(toy_data), {"nets.ngf": 12}))
    with pytest.raises(UserError, match="does not fit this run's"):
        init_from_checkpoint(task.nets(), tiny_run, model="pix2pix")
    with pytest.raises(UserError, match="a cyclegan checkpoint is needed"):
        init_from_checkpoint(task.nets(), tiny_run, model="cyclegan")


def test_train_init_from_on_the_command_line(toy_data, tiny_run, tmp_path, capsys):
    common = ["train", "pix2pix", "--data", str(toy_data), "--quiet", "--stop-after", "1",
              "--set", "data.preprocess=none", "--set", "nets.net_g=unet", "--set", "nets.num_downs=5",
              "--set", "nets.ngf=8", "--set", "nets.ndf=8", "--batch-size", "4", "--device", "cpu"]
    assert main([*common, "--out", str(tmp_path / "b"), "--init-from", str(tiny_run)]) == 0
    assert "init_from" in (tmp_path / "b" / "config.toml").read_text()
    # A mismatched start is reported before the run folder is made.
    assert main([*common, "--out", str(tmp_path / "c"), "--init-from", str(tiny_run), "--set", "nets.ngf=16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not fit" in err[0] and str(tiny_run) in err[0]
    assert not (tmp_path / "c").exists()
