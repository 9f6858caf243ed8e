"""CPU autocast's per-thread state, read and set the same way on every torch the project
supports (torch 2.4 took a device argument; 2.3 has CPU-only functions)."""

from __future__ import annotations

import torch


def cpu_autocast() -> tuple[bool, torch.dtype]:
    """Whether CPU autocast is on in this thread, and its lower-precision dtype."""
    if hasattr(torch, "get_autocast_dtype"):  # torch >= 2.4
        return torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")
    return torch.is_autocast_cpu_enabled(), torch.get_autocast_cpu_dtype()


def set_cpu_autocast(enabled: bool, dtype: torch.dtype) -> None:
    """Set this thread's CPU autocast state directly (without entering a `torch.autocast` block)."""
    if hasattr(torch, "set_autocast_dtype"):  # torch >= 2.4
        torch.set_autocast_enabled("cpu", enabled)
        torch.set_autocast_dtype("cpu", dtype)
    else:
        torch.set_autocast_cpu_enabled(enabled)
        torch.set_autocast_cpu_dtype(dtype)
