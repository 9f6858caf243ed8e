import json

import numpy as np
import pytest
import torch

from conftest import tiny_pix2pix_config
from mosaicgan.checkpoint import load_checkpoint, load_train_state
from mosaicgan.data.paired import PairedDataset
from mosaicgan.data.toy import make_shapes_dataset
from mosaicgan.infer.translate.translator import Translator
from mosaicgan.train.logging import read_log
from mosaicgan.train.loop import lr_factor, train


def test_lr_schedule_is_constant_then_linear():
    factors = [lr_factor(e, epochs=3, epochs_decay=3) for e in range(6)]
    assert factors[:3] == [1.0, 1.0, 1.0]
    assert factors[3] > factors[4] > factors[5] > 0
    assert abs(factors[3] - factors[4] - 0.25) < 1e-9


def test_run_folder_contents(tiny_run):
    assert (tiny_run / "config.toml").is_file()
    log = read_log(tiny_run)
    assert log and {"step", "epoch", "lr", "loss_g_l1", "loss_d_real", "loss_d_fake"} <= set(log[-1])
    assert list((tiny_run / "samples").glob("step_*.png"))
    ckpt = load_checkpoint(tiny_run)
    assert ckpt.kind == "pix2pix" and set(ckpt.nets) == {"gen", "disc"}
    assert ckpt.config["nets"]["ngf"] == 8  # self-describing: rebuilt with no flags
    assert load_train_state(tiny_run / "checkpoints" / "resume.pt")["step"] == log[-1]["step"]


def test_resume_matches_an_uninterrupted_run(toy_data, tmp_path):
    # Dropout, random crops and flips all on: each draws randomness that a resume must restore.
    config = tiny_pix2pix_config(toy_data, **{"data.preprocess": "resize_and_crop", "data.load_size": 40,
                                              "data.crop_size": 32, "optim.epochs": 2, "optim.epochs_decay": 1})
    full = train(config, run_dir=tmp_path / "full", progress=False)
    assert full.finished and full.step == 6  # 8 images, batch 4, 3 epochs
    part = train(config, run_dir=tmp_path / "part", progress=False, stop_after=3)  # stops mid-epoch
    assert not part.finished and part.step == 3
    # As if the first session had logged a step after its last checkpoint, then died.
    with (tmp_path / "part" / "log.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 4, "time": 99.0}) + "\n")
    resumed = train(config, run_dir=tmp_path / "part", progress=False, resume=True)
    assert resumed.finished and resumed.step == 6
    # Each step is logged once, and the clock runs on over the sessions (log_every is 1 here).
    log = read_log(tmp_path / "part")
    assert [record["step"] for record in log] == [1, 2, 3, 4, 5, 6]
    times = [record["time"] for record in log]
    assert times == sorted(times) and times[3] < 99.0 and resumed.seconds >= times[-1]
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "part")
    for key in ("gen", "disc"):
        sa, sb = a.nets[key].state_dict(), b.nets[key].state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), key
    # ... and a different seed really gives different weights (the comparison can fail).
    other = train(tiny_pix2pix_config(toy_data, **{"run.seed": 1, "optim.epochs": 2, "optim.epochs_decay": 1,
                                                   "data.preprocess": "resize_and_crop", "data.load_size": 40,
                                                   "data.crop_size": 32}), run_dir=tmp_path / "other", progress=False)
    w_other = load_checkpoint(other.run_dir).nets["gen"].state_dict()
    assert not all(torch.equal(w_other[k], a.nets["gen"].state_dict()[k]) for k in w_other)


def held_out_l1(translator, root):
    data = PairedDataset(root=root, split="test", preprocess="none", flip=False)
    model = identity = 0.0
    for i in range(len(data)):
        item = data[i]
        model += (translator(item["a"][None])[0] - item["b"]).abs().mean().item()
        identity += (item["a"] - item["b"]).abs().mean().item()
    return model / len(data), identity / len(data)


@pytest.mark.slow
def test_pix2pix_learns_outlines_to_filled_shapes(tmp_path, record_property):
    """A real learning test: after a short CPU run, held-out L1 is far below the identity baseline."""
    # 256 training pairs: with fewer the small U-Net starts to memorise them and the held-out
    # margin shrinks. 160 steps (about 8 s) per seed; the claims hold for the median of three
    # seeds, since other CPUs' kernels send one seed's adversarial path elsewhere.
    root = make_shapes_dataset(tmp_path / "shapes", n_train=256, n_test=32, size=32, seed=1)
    held_out, train_fall = [], []
    for seed in (0, 1, 2):
        config = tiny_pix2pix_config(root, **{
            "nets.ngf": 16, "nets.ndf": 16, "optim.lr": 1e-3, "optim.batch_size": 16,
            "optim.epochs": 6, "optim.epochs_decay": 4, "data.flip": False, "run.seed": seed,
            "run.log_every": 20, "run.sample_every": 10_000, "run.keep_every_epochs": 0,
        })
        result = train(config, run_dir=tmp_path / f"run{seed}", progress=False)
        assert result.step == 160
        model_l1, identity_l1 = held_out_l1(Translator.from_checkpoint(tmp_path / f"run{seed}"), root)
        held_out.append(model_l1 / identity_l1)
        log = read_log(tmp_path / f"run{seed}")
        train_fall.append(log[-1]["loss_g_l1"] / log[0]["loss_g_l1"])
    record_property("margins", {"held_out_l1_vs_identity": held_out, "train_l1_fall": train_fall})
    # Seeds 0-5 gave held-out L1 at 0.60-0.65 of the identity baseline, and training L1
    # falling to 0.24-0.28 of its first logged value.
    assert np.median(held_out) < 0.75, held_out
    assert np.median(train_fall) < 0.45, train_fall


def test_stop_after_on_a_run_already_there_trains_nothing(toy_data, tmp_path):
    config = tiny_pix2pix_config(toy_data)
    train(config, run_dir=tmp_path / "r", progress=False, stop_after=2)
    again = train(config, run_dir=tmp_path / "r", progress=False, resume=True, stop_after=2)
    assert again.step == 2 and not again.finished
    assert load_train_state(tmp_path / "r" / "checkpoints" / "resume.pt")["step"] == 2
