import os
import signal
import time

import pytest
import torch

# The suite's networks are tiny: one thread runs them about as fast as two on an idle 2-core
# machine, and many times faster on a busy one (a second OpenMP thread mostly waits).
# MOSAICGAN_TEST_THREADS=2 reruns the suite with another thread count, which changes how
# BLAS splits its sums: the learning tests must pass under either.
torch.set_num_threads(int(os.environ.get("MOSAICGAN_TEST_THREADS", "1")))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def tiny_pix2pix_config(root, **overrides):
    """A pix2pix config small enough for a CPU test: 32x32 images, a 5-level U-Net of width 8."""
    from mosaicgan.config import default_config, with_values

    values = {
        "data.root": str(root), "data.preprocess": "none", "data.num_workers": 0,
        "nets.net_g": "unet", "nets.num_downs": 5, "nets.ngf": 8, "nets.ndf": 8,
        "optim.epochs": 1, "optim.epochs_decay": 1, "optim.batch_size": 4,
        "run.log_every": 1, "run.sample_every": 2, "run.save_every": 1000, "run.device": "cpu",
    }
    values.update(overrides)
    return with_values(default_config("pix2pix"), values)


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory):
    from mosaicgan.data.toy import make_shapes_dataset

    return make_shapes_dataset(tmp_path_factory.mktemp("toy"), n_train=8, n_test=4, size=32, seed=0)


@pytest.fixture(scope="session")
def tiny_run(toy_data, tmp_path_factory):
    """A run folder with a (barely) trained tiny pix2pix checkpoint."""
    from mosaicgan.train.loop import train

    run_dir = tmp_path_factory.mktemp("run") / "tiny"
    train(tiny_pix2pix_config(toy_data), run_dir=run_dir, progress=False)
    return run_dir


def interrupt_after_steps(proc, run, *, steps=3, timeout=120):
    """As a terminal's Ctrl-C: once the training process `proc` (started with
    start_new_session=True) has logged `steps` steps in `run`, SIGINT to its whole process group.
    Returns its (stdout, stderr); the group is killed if it has not ended by then."""
    from mosaicgan.train.logging import read_log

    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if (run / "log.jsonl").exists() and len(read_log(run)) >= steps:
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def pytest_report_header(config):
    """A loud line when the page's browser tests cannot run (they skip; CI must not miss it)."""
    from web_browser import chromium_path, chromium_version, why_no_browser

    why = why_no_browser()
    if why is not None:
        return [f"!!! web browser tests SKIPPED: {why} !!!"]
    return [f"web browser tests: {chromium_version()} at {chromium_path()}"]


def pytest_terminal_summary(terminalreporter):
    """The same line at the end, where `-q` (the project's default) still shows it."""
    from web_browser import why_no_browser

    why = why_no_browser()
    if why is not None:
        terminalreporter.write_sep("!", f"web browser tests SKIPPED: {why}", red=True, bold=True)
