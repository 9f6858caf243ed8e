"""The arithmetic of an inference command's network: --precision auto (the default of translate,
upscale and remove: bf16 autocast where the device runs bf16 natively, `device.default_precision`;
float32 elsewhere), fp32, bf16, or fp16 (CUDA only). Weights stay as stored; autocast only
changes the arithmetic of the forward. One home for translate, upscale and remove."""

from __future__ import annotations

import contextlib

import torch

from mosaicgan.choices import INFER_PRECISIONS
from mosaicgan.device import default_precision
from mosaicgan.errors import UserError


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The arithmetic of `precision` ("fp32", "bf16", "fp16") around a forward on `device`."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto" -> bf16 where `device` runs it natively, else fp32; other names as given."""
    return default_precision(device) if precision == "auto" else precision


def check_precision(precision: str, device: torch.device) -> None:
    if precision not in INFER_PRECISIONS:
        raise UserError(f"--precision must be one of {', '.join(INFER_PRECISIONS)}, got {precision!r}")
    if precision == "fp16" and device.type != "cuda":
        raise UserError("--precision fp16 needs a CUDA device (on the CPU use bf16)")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError("--precision bf16: this GPU has no bfloat16 (use fp16)")
