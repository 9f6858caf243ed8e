"""Training's default arithmetic: "auto" is bf16 where the device runs it natively and fp32
elsewhere, decided once when a run starts, printed, and written to the run's config.toml (so a
resume keeps it). The guard for making bf16 a default: for every trainer (pix2pix is in
test_train_levers.py), a fixed-seed short run in bf16 keeps the loss curve and the logged
figures of the same run in fp32 within a stated tolerance. Both paths are tested on any CPU:
bf16 autocast runs everywhere (emulated where not native), and "auto" is tested both ways by
telling it what the device has."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_pix2pix_config
from mosaicgan import device as devices
from mosaicgan.cli import main
from mosaicgan.config import default_config, load_toml, with_values
from mosaicgan.train.logging import read_log
from mosaicgan.train.loop import train
from mosaicgan.train.precision import resolve_precision
from test_srgan import synthetic_images
from test_train_cyclegan import make_red_blue, tiny_cyclegan_config
from test_train_restorer import tiny_restorer_config, write_wavy_photos


@pytest.mark.parametrize("native", ["AVX512-BF16", None])
def test_auto_is_bf16_only_where_the_device_runs_it_natively(monkeypatch, native):
    monkeypatch.setattr(devices, "native_bf16", lambda device: native)
    chosen, line = resolve_precision("auto", torch.device("cpu"))
    assert chosen == ("bf16" if native else "fp32")
    assert line.startswith(f"precision: {chosen} (auto: ") and (native or "no native bf16") in line
    assert devices.default_precision(torch.device("cpu")) == chosen
    # An explicit choice is kept whatever the device has.
    assert resolve_precision("fp32", torch.device("cpu"))[0] == "fp32"
    assert resolve_precision("bf16", torch.device("cpu"))[0] == "bf16"


def test_the_cpu_query_agrees_with_the_kernels_flags():
    flags = devices._cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags here")
    native = devices.native_bf16(torch.device("cpu"))
    assert bool(native) == bool({"avx512_bf16", "amx_bf16"} & flags)


def test_the_run_keeps_what_auto_chose_when_resumed_elsewhere(toy_data, tmp_path, monkeypatch, capsys):
    """A run started where bf16 is native is written down as bf16; resumed on a machine without
    it, it goes on in bf16 (what it started with), and says so once."""
    out = tmp_path / "run"
    args = ["train", "pix2pix", "--data", str(toy_data), "--out", str(out), "--stop-after", "1", "--workers", "0",
            "--set", "nets.net_g=unet", "--set", "nets.num_downs=5", "--set", "nets.ngf=8", "--set", "nets.ndf=8",
            "--set", "data.preprocess=none", "--batch-size", "4"]
    monkeypatch.setattr(devices, "native_bf16", lambda device: "AVX512-BF16")
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert printed.count("precision: bf16 (auto: this CPU runs bf16 natively (AVX512-BF16)") == 1
    assert load_toml(out / "config.toml").run.precision == "bf16"
    monkeypatch.setattr(devices, "native_bf16", lambda device: None)
    assert main(["train", "pix2pix", "--resume", str(out), "--stop-after", "2"]) == 0
    assert "precision: bf16\n" in capsys.readouterr().out
    assert load_toml(out / "config.toml").run.precision == "bf16"


def test_fp32_is_the_choice_without_native_bf16_and_opting_out_is_one_flag(toy_data, tmp_path, monkeypatch):
    monkeypatch.setattr(devices, "native_bf16", lambda device: None)
    train(tiny_pix2pix_config(toy_data, **{"optim.epochs": 1, "optim.epochs_decay": 0}), run_dir=tmp_path / "a",
          progress=False)
    assert load_toml(tmp_path / "a" / "config.toml").run.precision == "fp32"
    monkeypatch.setattr(devices, "native_bf16", lambda device: "AMX")
    train(tiny_pix2pix_config(toy_data, **{"optim.epochs": 1, "optim.epochs_decay": 0, "run.precision": "fp32"}),
          run_dir=tmp_path / "b", progress=False)
    assert load_toml(tmp_path / "b" / "config.toml").run.precision == "fp32"


# --- bf16 keeps what fp32 learns, for every trainer ---------------------------------------------

# Largest relative difference of the smoothed loss curve (3 steps, as benchmarks/train_speed.py),
# and of the mean of the last logged figures, between bf16 and fp32 runs from the same seed.
# Measured on these runs: at most 0.4% for every curve, 0.08% for the PSNRs; another seed strays
# 14% (CycleGAN) and 61% (restorer), asserted below.
CURVE_TOLERANCE = 0.03
FIGURE_TOLERANCE = 0.02


def smoothed(curve: list[float]) -> list[float]:
    return [sum(curve[max(0, i - 2):i + 1]) / len(curve[max(0, i - 2):i + 1]) for i in range(len(curve))]


def curve_deviation(curve: list[float], base: list[float]) -> float:
    assert len(curve) == len(base) >= 6
    return max(abs(a - b) / abs(b) for a, b in zip(smoothed(curve), smoothed(base), strict=True))


def logged(run_dir, key: str) -> list[float]:
    return [r[key] for r in read_log(run_dir) if key in r]


def run_pair(make_config, root, **seed):
    """{precision: run folder} of the same run in fp32 and bf16."""
    runs = {}
    for precision in ("fp32", "bf16"):
        runs[precision] = root / f"{precision}{seed.get('seed', '')}"
        train(make_config(**{"run.precision": precision, **({"run.seed": seed["seed"]} if seed else {})}),
              run_dir=runs[precision], progress=False)
    return runs


@pytest.fixture(scope="module")
def cyclegan_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("prec_cg")
    data = make_red_blue(root / "data", n_a=8, n_b=8, n_test=2)

    def config(**values):
        return tiny_cyclegan_config(data, **{"optim.epochs": 2, "optim.epochs_decay": 2, **values})

    return run_pair(config, root), lambda seed: run_pair(config, root, seed=seed)["fp32"]


@pytest.fixture(scope="module")
def restorer_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("prec_rs")
    photos = write_wavy_photos(root / "photos", count=4)

    def config(**values):
        return tiny_restorer_config(photos, **{"optim.epochs": 4, "optim.epochs_decay": 0, **values})

    return run_pair(config, root), lambda seed: run_pair(config, root, seed=seed)["fp32"]


def write_sr_photos(folder, *, count: int):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(synthetic_images(count, size=64, seed=3)):
        Image.fromarray(((image + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()).save(folder / f"{i}.png")
    return folder


def tiny_srgan_config(photos, **values):
    base = {"data.root": str(photos), "data.num_workers": 0, "srgan.scale": 2, "srgan.blocks": 2, "srgan.width": 8,
            "srgan.patch": 32, "srgan.samples_per_epoch": 16, "optim.batch_size": 4,
            "optim.epochs": 2, "optim.epochs_decay": 0, "run.log_every": 1, "run.sample_every": 1000,
            "run.save_every": 1000, "run.device": "cpu"}
    return with_values(default_config("srgan"), {**base, **values})


@pytest.fixture(scope="module")
def srgan_runs(tmp_path_factory):
    """Stage mse, then stage gan from the fp32 stage-mse run (content + adversarial loss)."""
    root = tmp_path_factory.mktemp("prec_sr")
    photos = write_sr_photos(root / "photos", count=6)
    mse = run_pair(lambda **v: tiny_srgan_config(photos, **v), root / "mse")
    gan = run_pair(lambda **v: tiny_srgan_config(photos, **{"srgan.stage": "gan", "srgan.ndf": 8,
                                                            "run.init_from": str(mse["fp32"]), **v}), root / "gan")
    return mse, gan


def test_bf16_keeps_cyclegans_cycle_loss_and_the_comparison_can_fail(cyclegan_runs):
    runs, other_seed = cyclegan_runs
    base = logged(runs["fp32"], "loss_cycle_a")
    assert curve_deviation(logged(runs["bf16"], "loss_cycle_a"), base) <= CURVE_TOLERANCE
    assert curve_deviation(logged(other_seed(1), "loss_cycle_a"), base) > CURVE_TOLERANCE


def test_bf16_keeps_the_restorers_loss_and_psnr_and_the_comparison_can_fail(restorer_runs):
    runs, other_seed = restorer_runs
    base = logged(runs["fp32"], "loss_l1")
    assert curve_deviation(logged(runs["bf16"], "loss_l1"), base) <= CURVE_TOLERANCE
    psnr = {p: sum(logged(r, "psnr")[-4:]) / 4 for p, r in runs.items()}
    assert abs(psnr["bf16"] - psnr["fp32"]) <= FIGURE_TOLERANCE * psnr["fp32"]
    assert curve_deviation(logged(other_seed(1), "loss_l1"), base) > CURVE_TOLERANCE


def test_bf16_keeps_both_srgan_stages_loss_curves_and_psnr(srgan_runs):
    for runs, key in zip(srgan_runs, ("loss_mse", "loss_content"), strict=True):
        base = logged(runs["fp32"], key)
        assert curve_deviation(logged(runs["bf16"], key), base) <= CURVE_TOLERANCE, key
        psnr = {p: sum(logged(r, "psnr")[-4:]) / 4 for p, r in runs.items()}
        assert abs(psnr["bf16"] - psnr["fp32"]) <= FIGURE_TOLERANCE * psnr["fp32"], key
