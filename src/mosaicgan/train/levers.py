"""The speed levers of a training run, in one place for the loop and benchmarks/train_speed.py:
memory layout, fused optimizers, torch.compile, data loader workers. What each one buys on which
machine is measured by that benchmark (README: training speed)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from collections.abc import Collection

import torch

from mosaicgan.data.images import uint8_to_unit
from mosaicgan.device import usable_cpus
from mosaicgan.errors import UserError


def to_device(batch: dict, device: torch.device, *, channels_last: bool = False,
              uint8_keys: Collection[str] = ()) -> dict:
    """The batch's tensors on `device`; those under `uint8_keys` (uint8 images from a data set's
    `as_uint8`) cross as 8-bit, a quarter of float's bytes, and become floats in [-1, 1] there
    (`uint8_to_unit`, the data sets' own conversion: the same values on every device)."""
    def move(k: str, v: torch.Tensor) -> torch.Tensor:
        if channels_last and v.dim() == 4:
            v = v.to(device, non_blocking=True, memory_format=torch.channels_last)
        else:
            v = v.to(device, non_blocking=True)
        return uint8_to_unit(v) if k in uint8_keys and v.dtype == torch.uint8 else v

    return {k: move(k, v) if torch.is_tensor(v) else v for k, v in batch.items()}


def loader_workers(num_workers: int) -> int:
    """data.num_workers, with -1 (auto) as one process fewer than the CPUs this process may use
    (at most 4): the training step itself keeps the others busy, and more decoders than free
    cores only take turns with it (on a 2-core machine: 1)."""
    if num_workers >= 0:
        return num_workers
    return min(4, max(0, usable_cpus() - 1))


def check_compiler(device: torch.device) -> None:
    """torch.compile on the CPU writes C++ and builds it; without a compiler it fails deep in the
    first step, so say so up front."""
    if device.type == "cpu" and not any(shutil.which(c)
                                        for c in (os.environ.get("CXX", "g++"), "g++", "c++", "clang++")):
        raise UserError("run.compile (--compile) on the CPU needs a C++ compiler (g++ or clang++) on PATH; "
                        "install one or train without --compile")


def tune_optimizers(opts: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
    # Fused Adam (one kernel over all parameters) where torch has it (CPU and CUDA): the same
    # arithmetic as the loop over tensors, fewer passes over memory (Adam is about a fifth of a
    # batch-1 pix2pix step on a CPU). Chosen here, after the move to the device and after a
    # resume state's param_groups were loaded, since both decide it. (The CPU kernel came with
    # torch 2.4; before it only CUDA has one.)
    fused = device.type in (("cpu", "cuda") if torch.__version__ >= (2, 4) else ("cuda",))
    for opt in opts.values():
        for group in opt.param_groups:
            if "fused" in group:
                group["fused"] = fused
                group["foreach"] = None


def compile_nets(nets: dict[str, torch.nn.Module], *, mode: str = "default") -> None:
    # In place (nn.Module.compile): parameters and state-dict keys stay those of the plain
    # module, so checkpoints, resume states and optimizers are unaffected.
    for net in nets.values():
        net.compile(mode=mode)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory of any size for reuse. By default it serves blocks
    above its mmap threshold (at most 32 MB) with fresh pages from the kernel and gives them back
    when freed, so every training step, which frees and allocates the same large activations,
    takes a page fault (and a zero-filled page) for every 4 KB of them: about 130,000 per fp32
    pix2pix step at batch 1 on a 2-core EPYC, where keeping them made the step 1.18x faster
    (README, training speed). The peak memory is that of the largest step either way. Returns
    whether it applied (False without glibc)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 1 << 30)) and bool(mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1))
