"""The checkpoints of --models offered by the page: .safetensors files and run folders one
level down, sorted by what they do (translate: models with generators; upscale: srgan),
read from their metadata only (no weights loaded to list them)."""

from __future__ import annotations

import json
from pathlib import Path

from mosaicgan.errors import UserError


def list_models(folder: Path | None) -> dict[str, list[dict]]:
    """{'translate': [{'value', 'label', 'directions'}], 'upscale': [...]}; `value` is the path
    relative to `folder`, which is what the page sends back."""
    from mosaicgan.checkpoint import read_metadata
    from mosaicgan.models import MODELS

    found: dict[str, list[dict]] = {"translate": [], "upscale": []}
    if folder is None:
        return found
    candidates = sorted(folder.glob("*.safetensors")) + sorted(p for p in folder.iterdir() if p.is_dir())
    for path in candidates:
        try:
            meta = read_metadata(path)
        except UserError:
            continue  # not a checkpoint: not offered
        kind = meta["kind"]
        spec = MODELS.get(kind)
        entry = {"value": path.name, "label": f"{path.name} ({kind})"}
        if spec is not None and spec.generators:
            found["translate"].append({**entry, "directions": sorted(spec.generators)})
        elif kind == "srgan":
            scale = json.loads(meta.get("config", "{}")).get("srgan", {}).get("scale")
            found["upscale"].append({**entry, "label": f"{path.name} (srgan x{scale})" if scale else entry["label"]})
    return found


def resolve_model(folder: Path | None, value: str | None, *, task: str) -> Path | None:
    """The checkpoint the page named (one of `list_models`), or None for the shipped one."""
    if not value:
        return None
    offered = {m["value"] for m in list_models(folder)[task]}
    if folder is None or value not in offered:
        raise UserError(f"no such {task} model: {value[:80]!r} (choose one the page lists)")
    return folder / value
