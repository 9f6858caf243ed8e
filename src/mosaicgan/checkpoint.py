"""Self-describing checkpoints: weights + the specs and config that rebuild the networks.

Two files, both loadable without running pickled code:
- `*.safetensors`: the model (every network's weights, each network's build spec, the
  training config, the format version) in safetensors metadata. This is what `translate`,
  `eval` and the other inference commands take; no architecture flags are ever needed.
- `resume.pt`: everything a resumed run needs (weights, optimizer states, RNG states,
  counters), written with `torch.save` and read with `torch.load(weights_only=True)`.
Both are written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError
from mosaicgan.models import MODELS
from mosaicgan.nets.registry import build_from_spec, list_nets
from mosaicgan.validate import check_spec

FORMAT_NAME = "mosaicgan"
FORMAT_VERSION = 1
LATEST = "latest.safetensors"


@dataclass
class Checkpoint:
    kind: str  # what trained it: "pix2pix", "cyclegan", "classifier", ...
    nets: dict[str, nn.Module]
    config: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def save_checkpoint(
    path: str | Path,
    *,
    kind: str,
    nets: dict[str, nn.Module],
    config: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save networks built by `get_net` (they carry `build_spec`) with the config that made them."""
    tensors: dict[str, torch.Tensor] = {}
    specs = {}
    for key, net in nets.items():
        spec = getattr(net, "build_spec", None)
        if spec is None:
            raise ValueError(f"network {key!r} was not built by get_net, so it cannot be rebuilt")
        specs[key] = spec
        for name, value in net.state_dict().items():
            tensors[f"{key}.{name}"] = value.detach().cpu().contiguous()
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "kind": kind,
        "nets": json.dumps(specs),
        "config": json.dumps(config),
        "extra": json.dumps(extra or {}),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder (its latest checkpoint)."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / "checkpoints" / LATEST, path / LATEST):
            if candidate.is_file():
                return candidate
        raise UserError(f"folder holds no checkpoint (looked for checkpoints/{LATEST})", path=path)
    if not path.is_file():
        raise UserError("no such checkpoint", path=path)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of a mosaicgan checkpoint; anything else raises UserError naming the file.

    Metadata is checked as far as reading it needs (it may have been edited by hand): the
    required entries are there, the JSON ones parse, each network spec has a name and kwargs.
    """
    path = find_checkpoint(path)
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise UserError(f"cannot read checkpoint ({err.strerror})", path=path) from None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception:  # safetensors raises its own error types for every kind of bad header
        raise UserError("not a mosaicgan checkpoint (not a safetensors file)", path=path) from None
    if meta.get("format") != FORMAT_NAME:
        raise UserError("not a mosaicgan checkpoint (no mosaicgan metadata)", path=path)
    version = meta.get("format_version", "0")
    if not version.isdigit():
        raise UserError(f"damaged checkpoint metadata (format_version {version!r} is not a number)", path=path)
    if int(version) > FORMAT_VERSION:
        raise UserError(f"checkpoint format {version} is newer than this mosaicgan reads ({FORMAT_VERSION})",
                        path=path)
    for key in ("kind", "nets", "config"):
        if key not in meta:
            raise UserError(f"damaged checkpoint metadata (no {key!r} entry)", path=path)
    for key in ("nets", "config", "extra"):
        try:
            value = json.loads(meta.get(key, "{}"))
        except ValueError:
            raise UserError(f"damaged checkpoint metadata ({key!r} is not valid JSON)", path=path) from None
        if not isinstance(value, dict):
            raise UserError(f"damaged checkpoint metadata ({key!r} is not a JSON object)", path=path)
    specs = json.loads(meta["nets"])
    for key, spec in specs.items():
        if not (isinstance(spec, dict) and isinstance(spec.get("name"), str)
                and isinstance(spec.get("kwargs", {}), dict)):
            raise UserError(f"damaged checkpoint metadata (network {key!r} has no valid spec)", path=path)
        try:
            check_spec(spec.get("kwargs", {}), network=key)
        except UserError as err:
            raise UserError(f"damaged checkpoint metadata ({err})", path=path) from None
    return meta


def _check_networks(kind: str, specs: dict[str, Any], *, path: Path) -> None:
    """The networks a checkpoint of `kind` must hold for inference (`models.ModelSpec.networks`),
    each of the registered kind whose attributes inference uses (an upscaler's `scale`...)."""
    spec = MODELS.get(kind)
    held = ", ".join(f"{k} ({s.get('name')})" for k, s in specs.items()) or "none"
    for key, net_kind in (spec.networks if spec is not None else {}).items():
        name = specs.get(key, {}).get("name")
        entry = next((e for e in list_nets() if e.name == name), None)
        if entry is None or entry.kind != net_kind:
            article = "an" if net_kind[0] in "aeiou" else "a"
            raise UserError(f"says it is a {kind} checkpoint but its networks are not a {kind}'s (it needs "
                            f"{key!r}, {article} {net_kind}; it holds: {held})", path=path)


def _build_checked(key: str, spec: dict[str, Any], shapes: dict[str, tuple[int, ...]], *, path: Path) -> nn.Module:
    """Build a network from its stored spec once its shapes are known to match the stored
    weights: the spec is first built on the meta device (no memory), so a hand-edited
    ngf=10**6 is refused instead of allocated."""
    try:
        with torch.device("meta"):
            skeleton = build_from_spec(spec)
    except UserError as err:
        raise UserError(f"network {key!r} cannot be built from its stored spec ({err})", path=path) from None
    except (TypeError, ValueError, RuntimeError, KeyError) as err:
        raise UserError(f"network {key!r} cannot be built from its stored spec ({type(err).__name__}: {err})",
                        path=path) from None
    wanted = {name: tuple(t.shape) for name, t in skeleton.state_dict().items()}
    if wanted != shapes:
        odd = sorted(set(wanted) ^ set(shapes)) or sorted(k for k in wanted if wanted[k] != shapes[k])
        detail = f"{odd[0]}: spec {wanted.get(odd[0])}, stored {shapes.get(odd[0])}"
        raise UserError(f"weights of {key!r} do not fit its stored spec ({detail})", path=path)
    return build_from_spec(spec)


def load_checkpoint(
    path: str | Path, *, device: str | torch.device = "cpu", only: list[str] | None = None, kind: str | None = None
) -> Checkpoint:
    """Rebuild the networks stored in a checkpoint (or only those named in `only`), in eval mode."""
    path = find_checkpoint(path)
    meta = read_metadata(path)
    if kind is not None and meta["kind"] != kind:
        raise UserError(f"this is a {meta['kind']} checkpoint; a {kind} checkpoint is needed here", path=path)
    specs = json.loads(meta["nets"])
    _check_networks(meta["kind"], specs, path=path)
    wanted = list(specs) if only is None else only
    for key in wanted:
        if key not in specs:
            raise UserError(f"checkpoint has no network {key!r} (it has: {', '.join(specs)})", path=path)
    nets = {}
    with safe_open(str(path), framework="pt", device="cpu") as f:
        keys = list(f.keys())
        for key in wanted:
            prefix = f"{key}."
            shapes = {k[len(prefix):]: tuple(f.get_slice(k).get_shape()) for k in keys if k.startswith(prefix)}
            net = _build_checked(key, specs[key], shapes, path=path)
            state = {k[len(prefix):]: f.get_tensor(k) for k in keys if k.startswith(prefix)}
            try:
                net.load_state_dict(state)
            except RuntimeError as err:
                first = str(err).strip().splitlines()[0]
                raise UserError(f"weights of {key!r} do not fit its stored spec ({first})", path=path) from None
            nets[key] = net.to(device).eval()
    return Checkpoint(
        kind=meta["kind"],
        nets=nets,
        config=json.loads(meta["config"]),
        extra=json.loads(meta.get("extra", "{}")),
        path=path,
    )


def save_train_state(path: str | Path, state: dict[str, Any]) -> Path:
    """Everything a resumed run needs; only tensors, numbers, strings, lists and dicts."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_train_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError("no resume state (was the run started with this mosaicgan?)", path=path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (corrupt, truncated or foreign file)
        raise UserError(f"cannot read resume state (damaged or truncated: {type(err).__name__})", path=path) from None
