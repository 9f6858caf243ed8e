"""The checkpoints of --models offered by the page: .safetensors files and run folders one
level down, sorted by what they do (translate: models with generators; upscale: srgan),
read from their metadata only (no weights loaded to list them)."""

from __future__ import annotations

from pathlib import Path

from mosaicgan.errors import UserError
from mosaicgan.jobs import review


def list_models(folder: Path | None) -> dict[str, list[dict]]:
    """{'translate': [{'value', 'label', 'directions'}], 'upscale': [...]} (`jobs.review.checkpoints`);
    `value` is the path relative to `folder`, which is what the page sends back."""
    return review.checkpoints(folder)


def resolve_model(folder: Path | None, value: str | None, *, task: str) -> Path | None:
    """The checkpoint the page named (one of `list_models`), or None for the shipped one."""
    if not value:
        return None
    offered = {m["value"] for m in list_models(folder)[task]}
    if folder is None or value not in offered:
        raise UserError(f"no such {task} model: {value[:80]!r} (choose one the page lists)")
    return folder / value
