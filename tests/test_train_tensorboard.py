"""TensorBoard during training: every logged loss and the learning rate as scalars, the sample
grids as images, at the steps of log.jsonl and samples/ (skipped without the tensorboard package)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("tensorboard", reason="the tensorboard package is not installed")


def test_losses_lr_and_sample_grids_reach_tensorboard(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mosaicgan.train.logging import read_log

    events = EventAccumulator(str(tiny_run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    records = [r for r in read_log(tiny_run) if "loss_g" in r or any(k.startswith("loss_") for k in r)]
    assert records
    losses = sorted({k for r in records for k in r if k.startswith("loss_")})
    assert {"loss_g_gan", "loss_g_l1", "loss_d_real", "loss_d_fake"} <= set(losses)
    scalars = set(events.Tags()["scalars"])
    assert set(losses) | {"lr"} <= scalars
    for key in (*losses, "lr"):
        logged = {r["step"]: r[key] for r in records if key in r}
        seen = {e.step: e.value for e in events.Scalars(key)}
        assert seen.keys() == logged.keys()
        assert all(seen[s] == pytest.approx(v, rel=1e-6, abs=1e-7) for s, v in logged.items()), key
    samples = sorted((tiny_run / "samples").glob("step_*.png"))
    images = events.Images("samples")
    assert samples and [e.step for e in images] == [int(p.stem[5:]) for p in samples]
    import io

    for event, png in zip(images, samples, strict=True):
        shown = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"), dtype=np.int16)
        saved = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
        assert shown.shape == saved.shape and np.abs(shown - saved).max() <= 1  # the same grid
