"""Which torch device a command runs on. Training and every inference command use this one
helper, so `--device` means the same everywhere (and inference never imports the training
loop to get it)."""

from __future__ import annotations

import os

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


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS has one, else all of them)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def native_bf16(device: torch.device) -> str | None:
    """What runs bfloat16 natively on `device` ("AVX512-BF16", "AMX", "CUDA 8.0"...), or None
    where bf16 would be emulated: a CPU without AVX512-BF16 or AMX (oneDNN then converts every
    operand, often slower than float32), a GPU before compute capability 8.0 (Ampere), any
    other device."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        return f"CUDA {major}.{minor}" if major >= 8 else None
    if device.type != "cpu":
        return None
    try:  # torch's own query of the CPU (cpuinfo; torch >= 2.1), else the kernel's flags
        flags = {"AVX512-BF16": torch.cpu._is_avx512_bf16_supported(), "AMX": torch.cpu._is_amx_tile_supported()}
    except AttributeError:
        found = _cpu_flags()
        flags = {"AVX512-BF16": "avx512_bf16" in found, "AMX": "amx_bf16" in found}
    names = [name for name, on in flags.items() if on]
    return " and ".join(names) if names else None


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bfloat16 arithmetic runs natively on `device` (see `native_bf16`)."""
    return native_bf16(device) is not None


def default_precision(device: torch.device) -> str:
    """The arithmetic a command uses when not told: bf16 where the device runs it natively
    (`native_bf16`), float32 elsewhere."""
    return "bf16" if bf16_is_fast(device) else "fp32"


def _cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux); empty elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()
