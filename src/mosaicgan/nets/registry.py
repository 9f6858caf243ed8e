"""An explicit registry of networks: `@register_net` on a builder, `get_net(name, **kwargs)`.

Every network built through `get_net` remembers how it was built (`net.build_spec`), so a
checkpoint can store the spec beside the weights and rebuild the network with no flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from mosaicgan.errors import UserError

KINDS = ("generator", "discriminator", "classifier", "detector")


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
        _REGISTRY[name] = NetEntry(name, kind, builder, summary or (builder.__doc__ or "").strip().split("\n")[0], dict(defaults or {}))
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
        raise UserError(f"network {name!r}: {err}") from None
    net.build_spec = {"name": name, "kwargs": dict(kwargs)}
    return net


def build_from_spec(spec: dict[str, Any]) -> nn.Module:
    """Inverse of `net.build_spec`."""
    return get_net(spec["name"], **spec.get("kwargs", {}))


def count_parameters(net: nn.Module) -> int:
    """Trainable parameters, the figure the reference implementations print."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
