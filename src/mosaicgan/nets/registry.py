"""An explicit registry of networks: `@register_net` on a builder, `get_net(name, **kwargs)`.

Every network built through `get_net` remembers how it was built (`net.build_spec`), so a
checkpoint can store the spec beside the weights and rebuild the network with no flags.
A new network is a builder decorated here and an import line in `nets/__init__.py`.

What each kind promises (the trainers, `translate` and the checkpoints rely on it):

generator: builder(in_channels: int = 3, out_channels: int = 3, ngf: int = 64, norm: str,
  dropout: bool, upsample: str, ...) taking keyword arguments only, all JSON-serialisable
  (they are stored in checkpoints). `train.task.generator_from_config` passes exactly
  in_channels, out_channels, ngf, norm, dropout and upsample (plus num_downs for "unet");
  a generator that needs others says so in its task. forward: (N, in_channels, H, W) in
  [-1, 1] -> (N, out_channels, H, W) in [-1, 1] (tanh), same H and W. The module has an int
  attribute `size_multiple`: H and W must be multiples of it (U-Net: 2**num_downs, ResNet: 4);
  `translate` pads any image up to it and crops back, and training checks crop sizes against it.
  Dropout layers are nn.Dropout, so `translate --samples` can keep them on.
discriminator: builder(in_channels: int, ndf: int, norm: str, ...); forward: (N, C, H, W) ->
  raw scores (N, 1, h, w), one per patch (no sigmoid: the losses take logits).
classifier: builder(num_classes: int, dropout: float, ...); forward: (N, 3, H, W) in [-1, 1]
  -> logits (N, num_classes); for CAM, `features` (conv maps) then a global mean and a linear
  `classifier` head.
segmenter: builder(width: int, ...); forward: (N, 3, H, W) in [-1, 1], any H and W -> logits
  (N, 1, ceil(H / s), ceil(W / s)), one per s x s cell, s = the int attribute `out_stride`.

`get_net` turns a wrong argument (an unknown name, a missing or duplicated keyword) into a
one-line UserError; an error raised while the network is being built is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from mosaicgan.choices import NET_KINDS
from mosaicgan.errors import UserError

KINDS = NET_KINDS


@dataclass(frozen=True)
class NetEntry:
    name: str
    kind: str
    builder: Callable[..., nn.Module]
    summary: str
    # kwargs of the "default 3-channel setting" that `mosaicgan nets` reports.
    defaults: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, NetEntry] = {}


def register_net(name: str, *, kind: str, summary: str = "", defaults: dict[str, Any] | None = None):
    """Decorator: register `builder(**kwargs) -> nn.Module` under `name`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"network {name!r} is registered twice")
        _REGISTRY[name] = NetEntry(name, kind, builder, summary or (builder.__doc__ or "").strip().split("\n")[0],
                                   dict(defaults or {}))
        return builder

    return decorate


def list_nets(kind: str | None = None) -> list[NetEntry]:
    """Registered networks (optionally of one kind), in registration order."""
    return [e for e in _REGISTRY.values() if kind is None or e.kind == kind]


def net_entry(name: str, *, kind: str | None = None) -> NetEntry:
    entry = _REGISTRY.get(name)
    if entry is None or (kind is not None and entry.kind != kind):
        names = ", ".join(e.name for e in list_nets(kind))
        what = f"{kind} network" if kind else "network"
        raise UserError(f"unknown {what} {name!r}; choose one of: {names}")
    return entry


def get_net(name: str, *, kind: str | None = None, **kwargs: Any) -> nn.Module:
    """Build a registered network; `kwargs` override the builder's defaults."""
    entry = net_entry(name, kind=kind)
    try:
        net = entry.builder(**kwargs)
    except TypeError as err:
        if not _is_binding_error(err, entry.builder):
            raise
        raise UserError(f"network {name!r}: {err}") from None
    net.build_spec = {"name": name, "kwargs": dict(kwargs)}
    return net


def _is_binding_error(err: TypeError, builder: Callable[..., nn.Module]) -> bool:
    """Whether `err` came from calling the builder (or, from inside it, the network's class)
    with arguments it does not take, rather than from code running inside a constructor.

    Python raises an argument-binding error before the callee's frame exists, so its traceback
    ends in the caller: `get_net` itself, or the builder's own body passing `**kwargs` on.
    """
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    callers = {get_net.__code__, getattr(builder, "__code__", None)}
    return tb.tb_frame.f_code in callers


def build_from_spec(spec: dict[str, Any]) -> nn.Module:
    """Inverse of `net.build_spec`."""
    return get_net(spec["name"], **spec.get("kwargs", {}))


def count_parameters(net: nn.Module) -> int:
    """Trainable parameters, the figure the reference implementations print."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
