"""How a training step does its arithmetic: autocast (bf16 or fp16) around the step, and for fp16
a gradient scaler per optimizer. Tasks call `backward` and `step` here instead of
`loss.backward()` / `opt.step()`, so every precision (and, with several processes, the gradient
average) works in every task without the task knowing which is on.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.distributed as dist

from mosaicgan import device as devices

# run.precision -> the autocast dtype (None: plain float32).
AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(name: str, device: torch.device) -> tuple[str, str]:
    """run.precision as the run will use it, and a line saying why. "auto" becomes bf16 where
    `device` runs bf16 natively (the loss curves of every trainer stay within the tolerance of
    tests/test_train_levers.py, at about twice float32's speed on an AVX512-BF16 CPU) and fp32
    elsewhere; the loop writes the result to the run's config.toml, so a resume keeps it."""
    if name != "auto":
        return name, f"precision: {name}"
    native = devices.native_bf16(device)
    chosen = "bf16" if native else "fp32"
    where = "GPU" if device.type == "cuda" else "CPU"
    if native:
        why = f"this {where} runs bf16 natively ({native})"
    else:
        why = f"this {where} has no native bf16"
    return chosen, f"precision: {chosen} (auto: {why}; --precision fp32|bf16 to choose)"


class Precision:
    """Autocast and loss scaling for one run. Weights and optimizer state stay float32 in every
    mode; bf16 needs no scaling (float32's exponent range), fp16 does (its smallest normal is
    6e-5, below which small gradients would flush to zero)."""

    def __init__(self, name: str = "fp32", *, device: torch.device | str = "cpu") -> None:
        if name not in AUTOCAST_DTYPES:
            raise ValueError(f"unknown precision {name!r}; choose one of: {', '.join(AUTOCAST_DTYPES)}")
        self.name = name
        self.device = torch.device(device)
        self.dtype = AUTOCAST_DTYPES[name]
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        # Gradient averaging across processes (set by the loop under torchrun); None: one process.
        self.process_group: Any = None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def _scaler(self, key: str) -> torch.amp.GradScaler | None:
        if self.name != "fp16":
            return None
        if key not in self.scalers:
            # One scaler per optimizer: an overflow in D's step must not skip G's, and each scale
            # settles where its own gradients need it.
            self.scalers[key] = torch.amp.GradScaler(self.device.type)
        return self.scalers[key]

    def backward(self, loss: torch.Tensor, *, key: str) -> None:
        scaler = self._scaler(key)
        (scaler.scale(loss) if scaler is not None else loss).backward()

    def step(self, opt: torch.optim.Optimizer, *, key: str) -> None:
        """The optimizer step after one or more `backward(..., key=key)` calls."""
        if self.process_group is not None:
            average_gradients(opt, group=self.process_group)
        scaler = self._scaler(key)
        if scaler is None:
            opt.step()
        else:
            scaler.step(opt)  # skipped when the scaled gradients overflowed
            scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {key: scaler.state_dict() for key, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            scaler = self._scaler(key)
            if scaler is not None and value:
                scaler.load_state_dict(value)


def average_gradients(opt: torch.optim.Optimizer, *, group: Any) -> None:
    """Mean of each parameter's gradient over the processes: what DistributedDataParallel does
    during backward, done here once per optimizer step instead, so that a network may run any
    number of times per step, frozen or not (a GAN's D runs on real, on fake and inside G's loss),
    which DDP's per-backward bookkeeping does not allow (StyleGAN2-ADA averages by hand for the
    same reason). One all-reduce of one flat buffer per step; a parameter that no rank gave a
    gradient keeps none, as in one process (Adam skips it)."""
    params = [p for g in opt.param_groups for p in g["params"]]
    if not params:
        return
    ref = params[0]
    has = torch.tensor([p.grad is not None for p in params], dtype=ref.dtype, device=ref.device)
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params] + [has])
    dist.all_reduce(flat, group=group)
    given = (flat[-len(params):] > 0).tolist()  # one device-to-host copy per step
    flat /= dist.get_world_size(group)
    offset = 0
    for i, p in enumerate(params):
        n = p.numel()
        if given[i]:
            mean = flat[offset:offset + n].view(p.shape)
            if p.grad is None:
                p.grad = mean.clone()
            else:
                p.grad.copy_(mean)
        offset += n
