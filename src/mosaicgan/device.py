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
