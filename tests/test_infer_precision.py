"""Inference commands follow training's rule: --precision auto (the default of translate, upscale
and remove) is bf16 autocast where the device runs bf16 natively and float32 elsewhere; their
outputs in bf16 stay within a stated tolerance of float32's (docs/performance.md has the figures
on real photos). bf16 autocast runs on any CPU (emulated where not native), so both paths are
tested everywhere; "auto" is tested both ways by telling it what the device has."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mosaicgan import device as devices
from mosaicgan.data.images import pil_to_tensor
from mosaicgan.infer.remove.restorer import load_restorer
from mosaicgan.infer.translate.translator import Translator
from mosaicgan.infer.upscale.upscaler import Upscaler
from mosaicgan.metrics import psnr
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.mosaic import pixelate

FIXTURES = Path(__file__).parent / "fixtures"
# Smallest PSNR (dB) between an output in bf16 and in float32, and largest change of the PSNR
# against the truth (dB). Measured here: 59 and 0.001 (upscale), 0.001 (remove).
OUTPUTS_APART = 40.0
QUALITY_CHANGE = 0.05


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    return pil_to_tensor(Image.open(FIXTURES / "grace_hopper.jpg").convert("RGB"))[:, :256, :256]


@pytest.mark.parametrize("native", ["AVX512-BF16", None])
def test_auto_is_bf16_only_where_native(monkeypatch, native):
    monkeypatch.setattr(devices, "native_bf16", lambda device: native)
    want = "bf16" if native else "fp32"
    assert Upscaler.from_checkpoint().precision == want
    assert load_restorer().precision == want
    assert Translator.from_net(torch.nn.Conv2d(3, 3, 3, padding=1)).precision == want
    assert Upscaler.from_checkpoint(precision="fp32").precision == "fp32"  # opting out


def test_upscale_in_bf16_keeps_float32s_output(photo):
    lr = F.interpolate(photo[None], scale_factor=0.25, mode="bicubic", antialias=True)[0].clamp(-1, 1)
    out = {p: Upscaler.from_checkpoint(precision=p)(lr) for p in ("fp32", "bf16")}
    assert float(psnr(out["bf16"][None], out["fp32"][None])) > OUTPUTS_APART
    quality = {p: float(psnr(y[None], photo[None])) for p, y in out.items()}
    assert abs(quality["bf16"] - quality["fp32"]) < QUALITY_CHANGE, quality


def test_restoring_in_bf16_keeps_float32s_output(photo):
    mask = torch.zeros(1, 256, 256)
    mask[:, 64:176, 80:192] = 1
    grid = Grid(12, 12, 5, 7)
    observed = pixelate(photo, mask, block=12, offset=(5, 7))
    out = {p: load_restorer(precision=p).restore(observed, mask, grid=grid) for p in ("fp32", "bf16")}
    inside = mask.expand(3, -1, -1).bool()
    assert float(psnr(out["bf16"][inside][None], out["fp32"][inside][None])) > OUTPUTS_APART
    quality = {p: float(psnr(y[inside][None], photo[inside][None])) for p, y in out.items()}
    assert abs(quality["bf16"] - quality["fp32"]) < QUALITY_CHANGE, quality


def test_translate_in_bf16_keeps_float32s_output(tiny_run, photo):
    from mosaicgan.checkpoint import load_checkpoint

    ckpt = load_checkpoint(tiny_run)
    out = {p: Translator.from_net(ckpt.nets["gen"], ckpt=ckpt, precision=p)(photo[None, :, :64, :64])
           for p in ("fp32", "bf16")}
    assert float(psnr(out["bf16"], out["fp32"])) > OUTPUTS_APART
