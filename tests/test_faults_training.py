"""Training under faults: kills mid-save, Ctrl-C, two processes in one run folder, damaged logs and states."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from conftest import interrupt_after_steps, tiny_pix2pix_config
from mosaicgan.checkpoint import load_checkpoint, load_train_state, save_train_state
from mosaicgan.train import loop
from mosaicgan.train.logging import RunningMeans, read_log
from mosaicgan.train.loop import checkpoint_at_step, train
from mosaicgan.train.run_folder import RunLock
from test_cli import assert_one_line_error, run_cli

# 8 toy images, batch 4: two iterations per epoch; keep a snapshot at every epoch end.
KEEP_EACH = {"optim.epochs": 2, "optim.epochs_decay": 1, "run.keep_every_epochs": 1}


def weights(path):
    return load_checkpoint(path).nets["gen"].state_dict()


def same_weights(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_epoch_snapshot_copy_is_atomic(toy_data, tmp_path, monkeypatch):
    def torn_copy(src, dst):  # a kill in the middle of the copy
        with open(src, "rb") as fh, open(dst, "wb") as out:
            out.write(fh.read(1000))
        raise KeyboardInterrupt

    monkeypatch.setattr(loop.shutil, "copyfile", torn_copy)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_pix2pix_config(toy_data, **KEEP_EACH), run_dir=tmp_path / "run", progress=False)
    ckpts = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["latest.safetensors", "resume.pt"]


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_resume_repairs_the_snapshot_and_latest_a_kill_left_behind(toy_data, tmp_path, damage):
    config = tiny_pix2pix_config(toy_data, **KEEP_EACH)
    full = train(config, run_dir=tmp_path / "full", progress=False)
    assert full.finished
    run = tmp_path / "run"
    train(config, run_dir=run, progress=False, stop_after=2)  # stops at the end of epoch 1
    snapshot, latest = run / "checkpoints" / "epoch_001.safetensors", run / "checkpoints" / "latest.safetensors"
    assert checkpoint_at_step(snapshot, 2)
    if damage == "truncate":  # what a non-atomic copy left when killed
        snapshot.write_bytes(snapshot.read_bytes()[: snapshot.stat().st_size // 2])
    else:  # killed between resume.pt and the model files
        snapshot.unlink()
        latest.unlink()
    assert not checkpoint_at_step(snapshot, 2)
    resumed = train(config, run_dir=run, progress=False, resume=True)
    assert resumed.finished
    for name in ("epoch_001", "epoch_002", "epoch_003"):
        a = weights(tmp_path / "full" / "checkpoints" / f"{name}.safetensors")
        b = weights(run / "checkpoints" / f"{name}.safetensors")
        assert same_weights(a, b), name
    # The snapshot really changes over epochs (the comparison above can fail).
    assert not same_weights(weights(run / "checkpoints" / "epoch_001.safetensors"),
                            weights(run / "checkpoints" / "epoch_003.safetensors"))


def test_start_and_resume_remove_temporaries_of_killed_saves(toy_data, tmp_path):
    config = tiny_pix2pix_config(toy_data)
    run = tmp_path / "run"
    train(config, run_dir=run, progress=False, stop_after=1)
    litter = [run / "checkpoints" / ".resume.pt.k2j3h4l5.tmp", run / "checkpoints" / ".latest.safetensors.abc_def1.tmp",
              run / "checkpoints" / ".tmpAb3dE9", run / "samples" / ".step_0000002.png.x1y2z3w4.tmp",
              run / ".config.toml.q1w2e3r4.tmp"]
    kept = [run / "checkpoints" / "notes.txt", run / ".tmp", run / "checkpoints" / ".tmp-mine",
            run / "checkpoints" / ".eval_test.json.a1b2c3d4.tmp"]  # another command's write in progress
    for path in litter + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 100)
    assert train(config, run_dir=run, progress=False, resume=True).finished
    assert not any(p.exists() for p in litter)
    assert all(p.exists() for p in kept)


class SignalAt:
    """Stands in for the loop's RunningMeans and sends the process `signals` after iteration `at`."""

    def __init__(self, at, signals):
        self.at, self.signals, self.count = at, signals, 0

    def __call__(self):
        outer = self

        class Means(RunningMeans):
            def update(self, values):
                super().update(values)
                outer.count += 1
                if outer.count == outer.at:
                    for sig in outer.signals:
                        os.kill(os.getpid(), sig)

        return Means()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_saves_a_checkpoint_and_stops(toy_data, tmp_path, monkeypatch, sig):
    monkeypatch.setattr(loop, "RunningMeans", SignalAt(3, [sig]))  # mid-epoch 2
    # What was installed before (a background job starts with SIGINT ignored, not Python's default).
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    run = tmp_path / "run"
    result = train(tiny_pix2pix_config(toy_data, **KEEP_EACH), run_dir=run, progress=False)
    assert not result.finished and result.step == 3 and result.stopped_by == sig.name
    assert load_train_state(run / "checkpoints" / "resume.pt")["step"] == 3
    assert checkpoint_at_step(run / "checkpoints" / "latest.safetensors", 3)
    assert {s: signal.getsignal(s) for s in before} == before  # handlers restored
    monkeypatch.setattr(loop, "RunningMeans", RunningMeans)
    assert train(tiny_pix2pix_config(toy_data, **KEEP_EACH), run_dir=run, progress=False, resume=True).step == 6


def test_second_ctrl_c_stops_at_once_without_saving(toy_data, tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "RunningMeans", SignalAt(1, [signal.SIGINT, signal.SIGINT]))
    with pytest.raises(KeyboardInterrupt):
        train(tiny_pix2pix_config(toy_data), run_dir=tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "checkpoints" / "resume.pt").exists()


def test_cli_reports_the_signal_and_exits_130(capsys, toy_data, tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "RunningMeans", SignalAt(1, [signal.SIGINT]))
    code, out, _ = run_cli(capsys, "train", "pix2pix", "--data", toy_data, "--out", tmp_path / "run", "--quiet",
                           "--set", "data.preprocess=none", "--set", "nets.net_g=unet", "--set", "nets.num_downs=5",
                           "--set", "nets.ngf=8", "--set", "nets.ndf=8", "--device", "cpu", "--workers", "0")
    assert code == 130 and "stopped by SIGINT" in out and "--resume" in out


def test_second_process_in_a_run_folder_is_refused(capsys, toy_data, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with RunLock(run):
        code, _, err = run_cli(capsys, "train", "pix2pix", "--data", toy_data, "--out", run, "--quiet")
    assert_one_line_error(code, err, "another mosaicgan process", f"pid {os.getpid()}", str(run))
    assert not (run / "config.toml").exists()


def test_lock_of_a_killed_process_does_not_block(toy_data, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from mosaicgan.train.run_folder import RunLock;"
        f"RunLock(Path({str(run)!r})).acquire(); print('locked', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(Exception, match="another mosaicgan process"):
            RunLock(run).acquire()
    finally:
        holder.kill()  # SIGKILL: no chance to clean up
        holder.wait()
    assert (run / ".lock").exists()
    assert train(tiny_pix2pix_config(toy_data), run_dir=run, progress=False, stop_after=1).step == 1


def test_restart_after_a_kill_before_the_first_checkpoint_logs_each_step_once(toy_data, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    # What the killed first start left: its config and log, no checkpoint.
    (run / "log.jsonl").write_text("".join(json.dumps({"step": s, "loss_g_l1": 1.0}) + "\n" for s in (1, 2, 3)))
    train(tiny_pix2pix_config(toy_data), run_dir=run, progress=False)
    assert [r["step"] for r in read_log(run)] == [1, 2, 3, 4]


def test_torn_last_log_line_does_not_block_resume(toy_data, tmp_path):
    run = tmp_path / "run"
    config = tiny_pix2pix_config(toy_data)
    train(config, run_dir=run, progress=False, stop_after=2)
    with (run / "log.jsonl").open("a") as fh:
        fh.write('{"step": 3, "loss_g_l')  # killed inside a write
    assert train(config, run_dir=run, progress=False, resume=True).finished
    assert [r["step"] for r in read_log(run)] == [1, 2, 3, 4]


def resume_cli(capsys, run):
    return run_cli(capsys, "train", "pix2pix", "--resume", run, "--quiet")


@pytest.fixture
def stopped_run(toy_data, tmp_path):
    run = tmp_path / "run"
    train(tiny_pix2pix_config(toy_data, **{"data.root": str(toy_data)}), run_dir=run, progress=False, stop_after=1)
    return run


def test_resume_state_of_another_model_is_one_line(capsys, stopped_run):
    path = stopped_run / "checkpoints" / "resume.pt"
    state = load_train_state(path)
    state["kind"] = "cyclegan"
    save_train_state(path, state)
    code, _, err = resume_cli(capsys, stopped_run)
    assert_one_line_error(code, err, "cyclegan run", "pix2pix", "resume.pt")
    del state["kind"]  # an older resume state: told apart by its networks
    state["nets"] = {"gen_ab": state["nets"]["gen"], "gen_ba": state["nets"]["gen"]}
    save_train_state(path, state)
    code, _, err = resume_cli(capsys, stopped_run)
    assert_one_line_error(code, err, "gen_ab", "another model")


def test_resume_state_with_a_missing_key_or_wrong_shapes_is_one_line(capsys, stopped_run):
    path = stopped_run / "checkpoints" / "resume.pt"
    state = load_train_state(path)
    save_train_state(path, {k: v for k, v in state.items() if k != "optimizers"})
    code, _, err = resume_cli(capsys, stopped_run)
    assert_one_line_error(code, err, "lacks optimizers")
    name = next(k for k, v in state["nets"]["gen"].items() if v.dim() == 4)
    state["nets"]["gen"][name] = torch.zeros(3, 3, 1, 1)
    save_train_state(path, state)
    code, _, err = resume_cli(capsys, stopped_run)
    assert_one_line_error(code, err, "weights of 'gen'", "do not fit")


def test_config_edited_after_the_start_is_one_line(capsys, stopped_run):
    toml = stopped_run / "config.toml"
    text = toml.read_text()
    toml.write_text(text.replace("ngf = 8", "ngf = 16"))
    code, _, err = resume_cli(capsys, stopped_run)
    assert_one_line_error(code, err, "config.toml was edited", "nets.ngf: 8 -> 16")
    # Keys that do not change the computation may change.
    toml.write_text(text.replace("log_every = 1", "log_every = 2"))
    code, out, err = resume_cli(capsys, stopped_run)
    assert code == 0 and "finished" in out, err


def test_a_run_started_by_an_older_version_resumes_when_the_new_keys_keep_their_defaults(tmp_path):
    """An older version's resume state lacks the keys added since; at their defaults they compute
    what the old run did and pass; set otherwise, or any old key changed, they are refused."""
    from mosaicgan.config import default_config, to_dict
    from mosaicgan.errors import UserError
    from mosaicgan.train.resume_state import check_config_unchanged

    defaults = to_dict(default_config("cyclegan"))
    saved = to_dict(default_config("cyclegan"))
    del saved["nets"]["global_skip"]  # as if written before the key existed
    check_config_unchanged(saved, defaults, path=tmp_path / "config.toml", defaults=defaults)
    changed = to_dict(default_config("cyclegan"))
    changed["nets"]["global_skip"] = True
    with pytest.raises(UserError, match="nets.global_skip: None -> True"):
        check_config_unchanged(saved, changed, path=tmp_path / "config.toml", defaults=defaults)
    with pytest.raises(UserError, match="nets.global_skip"):  # without the defaults: refused as before
        check_config_unchanged(saved, defaults, path=tmp_path / "config.toml")


@pytest.mark.slow
def test_ctrl_c_to_the_process_group_with_loader_workers(toy_data, tmp_path):
    """As a terminal sends it: SIGINT reaches the trainer and its DataLoader workers alike.
    The workers leave the decision to the trainer, which saves and exits 130."""
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mosaicgan", "train", "pix2pix", "--data", str(toy_data), "--out", str(run), "--quiet",
         "--set", "data.preprocess=none", "--set", "nets.net_g=unet", "--set", "nets.num_downs=5",
         "--set", "nets.ngf=8", "--set", "nets.ndf=8", "--set", "run.log_every=1", "--batch-size", "1",
         "--epochs", "500", "--epochs-decay", "0", "--workers", "2", "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    out, err = interrupt_after_steps(proc, run, steps=3)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "stopped by SIGINT" in out
    assert err.count("SIGINT received") == 1  # the workers stay quiet
    step = load_train_state(run / "checkpoints" / "resume.pt")["step"]
    assert step >= 3 and f"at iteration {step}," in out
    assert checkpoint_at_step(run / "checkpoints" / "latest.safetensors", step)
