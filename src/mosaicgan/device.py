"""Which torch device a command runs on. Training and every inference command use this one
helper, so `--device` means the same everywhere (and inference never imports the training
loop to get it)."""

from __future__ import annotations

import torch

from mosaicgan.errors import UserError


def resolve_device(name: str | None) -> torch.device:
    """"auto" (or None): CUDA when present, else the CPU; "cpu", "cuda", "cuda:N" as given. A
    CUDA device on a machine without one, or an unknown name, is a one-line UserError."""
    name = name or "auto"
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is available (use --device cpu or auto)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bfloat16 arithmetic runs natively on `device`: a CUDA device with bf16, or a CPU
    with AVX512-BF16 or AMX (elsewhere oneDNN emulates bf16, often slower than float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:  # private helpers of torch.cpu (torch >= 2.1); a torch without them gets float32
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False
