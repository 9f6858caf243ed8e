"""The training speed levers change how a step is computed, not what it learns: a fixed-seed
short run with each lever keeps the loss curve of the fp32 run within a stated tolerance.
(What they buy in speed is measured in benchmarks/train_speed.py, never here.)"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
import torch

from conftest import tiny_pix2pix_config
from mosaicgan.checkpoint import load_train_state
from mosaicgan.cli import main
from mosaicgan.errors import UserError
from mosaicgan.train.logging import RunningMeans, read_log
from mosaicgan.train.loop import train
from mosaicgan.train.precision import Precision

# Largest relative difference of a lever's L1 loss curve from fp32's, step by step. bf16 and
# channels_last only round differently (measured: under 0.1% on this toy run); fp16 starts
# with a loss scale so large that its first steps overflow and are skipped by design, which
# shifts the curve by a few percent (measured: about 2%).
# torch's own kernels for the small maps instead of one matrix product (run.small_map_gemm)
# sum in another order only.
TOLERANCE = {"bf16": 0.02, "channels_last": 0.02, "fp16": 0.08, "native_convs": 0.02}
# Each lever alone, against fp32 (the default precision, "auto", is bf16 on some machines).
LEVERS = {"fp32": {"run.precision": "fp32", "run.channels_last": False},
          "bf16": {"run.precision": "bf16", "run.channels_last": False},
          "channels_last": {"run.precision": "fp32", "run.channels_last": True},
          "fp16": {"run.precision": "fp16", "run.channels_last": False},
          "native_convs": {"run.precision": "fp32", "run.small_map_gemm": False}}


def l1_curve(toy_data, run_dir, seed: int = 0, **values) -> list[float]:
    config = tiny_pix2pix_config(toy_data, **{"optim.epochs": 2, "optim.epochs_decay": 2, "run.seed": seed, **values})
    train(config, run_dir=run_dir, progress=False)
    return [r["loss_g_l1"] for r in read_log(run_dir) if "loss_g_l1" in r]


def deviation(curve: list[float], base: list[float]) -> float:
    assert len(curve) == len(base) == 8
    return max(abs(a - b) / b for a, b in zip(curve, base, strict=True))


@pytest.fixture(scope="module")
def curves(toy_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("levers")
    return {name: l1_curve(toy_data, root / name, **values) for name, values in LEVERS.items()}


@pytest.mark.parametrize("lever", ["bf16", "channels_last", "fp16", "native_convs"])
def test_lever_keeps_the_loss_curve_of_fp32(curves, lever):
    assert deviation(curves[lever], curves["fp32"]) <= TOLERANCE[lever]


@pytest.mark.parametrize("enabled", [True, False])
def test_cpu_training_takes_the_matrix_product_for_small_maps_unless_told_not_to(toy_data, tmp_path, monkeypatch,
                                                                                 enabled):
    from mosaicgan.nets import gemm_convs

    calls = []
    real = gemm_convs.conv2d_gemm
    monkeypatch.setattr(gemm_convs, "conv2d_gemm", lambda *a, **k: calls.append(1) or real(*a, **k))
    config = tiny_pix2pix_config(toy_data, **{"optim.epochs": 1, "optim.epochs_decay": 0,
                                              "run.small_map_gemm": enabled})
    train(config, run_dir=tmp_path / "run", progress=False)
    assert bool(calls) == enabled


def test_the_curve_comparison_can_fail(curves, toy_data, tmp_path):
    # Another seed (other weights, crops, dropout) strays beyond the bf16 tolerance.
    other = l1_curve(toy_data, tmp_path / "other", seed=1, **LEVERS["fp32"])
    assert deviation(other, curves["fp32"]) > TOLERANCE["bf16"]


def test_fp16_resume_matches_an_uninterrupted_run(toy_data, tmp_path):
    config = tiny_pix2pix_config(toy_data, **{"run.precision": "fp16", "optim.epochs": 1, "optim.epochs_decay": 1})
    full = train(config, run_dir=tmp_path / "full", progress=False)
    train(config, run_dir=tmp_path / "part", progress=False, stop_after=1)
    state = load_train_state(tmp_path / "part" / "checkpoints" / "resume.pt")
    scales = [value["scale"] for value in state["precision"].values()]
    assert set(state["precision"]) == {"gen", "disc"} and all(0 < s <= 2.0**16 for s in scales)
    precision = Precision("fp16")
    precision.load_state_dict(state["precision"])
    assert precision.state_dict() == state["precision"]
    resumed = train(config, run_dir=tmp_path / "part", progress=False, resume=True)
    assert full.step == resumed.step == 4
    a = load_train_state(tmp_path / "full" / "checkpoints" / "resume.pt")
    b = load_train_state(tmp_path / "part" / "checkpoints" / "resume.pt")
    assert a["precision"] == b["precision"]
    for key in ("gen", "disc"):
        assert all(torch.equal(a["nets"][key][n], b["nets"][key][n]) for n in a["nets"][key]), key


def test_running_means_read_device_tensors_once_per_log():
    means = RunningMeans()
    means.update({"loss": torch.tensor(1.0), "acc": 0.5})
    means.update({"loss": torch.tensor(3.0), "acc": 1.0})
    assert means.pop() == {"loss": 2.0, "acc": 0.75}
    assert means.pop() == {}


def test_compile_without_a_compiler_is_one_line_before_the_folder(toy_data, tmp_path, monkeypatch):
    monkeypatch.setattr("mosaicgan.train.levers.shutil.which", lambda name: None)
    with pytest.raises(UserError, match="C\\+\\+ compiler"):
        train(tiny_pix2pix_config(toy_data, **{"run.compile": True}), run_dir=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_command_line_levers_reach_the_config(toy_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "pix2pix", "--data", str(toy_data), "--out", str(out), "--precision", "bf16",
                 "--no-channels-last", "--stop-after", "1", "--quiet",
                 "--set", "nets.net_g=unet", "--set", "nets.num_downs=5", "--set", "nets.ngf=8", "--set", "nets.ndf=8",
                 "--set", "data.preprocess=none", "--batch-size", "4", "--workers", "0"]) == 0
    text = (out / "config.toml").read_text()
    assert 'precision = "bf16"' in text and "channels_last = false" in text and "compile = false" in text
    # --resume may switch layout and compilation (they change rounding only), not the precision.
    assert main(["train", "pix2pix", "--resume", str(out), "--channels-last", "--stop-after", "2", "--quiet"]) == 0
    assert main(["train", "pix2pix", "--resume", str(out), "--precision", "fp32", "--quiet"]) == 2
    assert "only --device, --compile, --channels-last" in capsys.readouterr().err


# Run in a fresh interpreter: the suite's process has a heap shaped by a thousand tests (and a failed
# huge allocation moves the main thread to a side arena, where 64 MB blocks are always mmap'd), so an
# in-process count measured that history, not the lever (CI once saw 4,096 faults a round).
_FAULTS_PER_ALLOCATION = """
import resource, sys, torch
from mosaicgan.train.levers import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def faults() -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(16 * 2**20).fill_(1.0)  # 64 MB, above glibc's largest default mmap threshold
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
for _ in range(16):
    faults()
print(sum(faults() for _ in range(16)))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_keep_freed_memory_stops_page_faults_on_reallocation():
    """After keep_freed_memory, a large block freed and allocated again (as every training step
    does with its activations) reuses the same pages instead of faulting in fresh ones. Aligned
    allocations fault fresh pages a few times (up to 7 measured) until the heap holds a free block
    large enough; the 16 after a warm-up of 16 then fault none, where glibc's default faults every
    page of every one of them (16 x 16,384 with 4 KB pages, fewer where the kernel maps larger folios)."""

    def faults(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", _FAULTS_PER_ALLOCATION, mode], capture_output=True,
                              text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        return int(done.stdout.split()[-1])

    default = faults("default")
    if default < 16 * 1000:
        pytest.skip(f"this kernel maps fresh memory with few faults ({default} for 16 x 64 MB); nothing to compare")
    assert faults("keep") < 16384  # less than one fresh 64 MB block in 16
