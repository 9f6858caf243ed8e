"""`translate` over image files: read (any mode), run in batches of equal size, write PNGs of
the input's exact size, keeping the alpha channel of inputs that have one.

This module only adapts files to the per-frame core (`translator.Translator`, which takes a
batch of frames, or `translator.translate_image` for one): `image_io.load_image` with the
network's channel count, `image_io.write_image`, and `outputs.plan_outputs` for the names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from pathlib import Path

import torch

from mosaicgan.data.images import probe_image
from mosaicgan.errors import UserError
from mosaicgan.infer.image_io import load_image, write_image
from mosaicgan.infer.outputs import plan_outputs, png_names
from mosaicgan.infer.results import ItemResult
from mosaicgan.infer.translate.translator import Translator


def batches_by_size(paths: list[Path], sizes: dict[Path, tuple[int, int]], batch_size: int) -> Iterator[list[Path]]:
    """Paths grouped into batches of images that share one size (so they stack)."""
    groups: dict[tuple[int, int], list[Path]] = defaultdict(list)
    for p in paths:
        groups[sizes[p]].append(p)
    for group in groups.values():
        for i in range(0, len(group), batch_size):
            yield group[i : i + batch_size]


def check_inputs(paths: list[Path], *, translator: Translator, out_dir: str | Path, samples: int = 1,
                 overwrite: bool = False, mine: Collection[Path] | None = None) -> dict[Path, list[Path]]:
    """Before the first write: the outputs (NAME.png, or NAME_sK.png for K samples) and every
    input decodes. Returns the plan input -> [output per sample]."""
    if samples > 1 and not translator.stochastic:
        raise UserError("--samples > 1 needs a generator with dropout kept on at test time "
                        "(trained with nets.dropout_at_test=true); these outputs would be identical")
    plan = plan_outputs(paths, out_dir, names=png_names(samples=samples), overwrite=overwrite, mine=mine)
    for p in paths if mine is None else [p for p in paths if p in mine]:
        probe_image(p, decode=True)
    return plan


def translate_batches(paths: list[Path], plan: dict[Path, list[Path]], *, translator: Translator,
                      batch_size: int = 4, samples: int = 1) -> Iterator[list[ItemResult]]:
    """Translate `paths` in batches of equal size; yields each batch's results once written."""
    sizes = {p: probe_image(p) for p in paths}
    for group in batches_by_size(paths, sizes, batch_size):
        loaded = [load_image(p, channels=translator.in_channels) for p in group]
        x = torch.stack([item.image for item in loaded])
        items = [ItemResult(input=p, kind="image") for p in group]
        for k in range(samples):
            y = translator(x)
            for path, item, out, result in zip(group, loaded, y, items, strict=True):
                result.outputs.append(write_image(out, plan[path][k], alpha=item.alpha))
        yield items
