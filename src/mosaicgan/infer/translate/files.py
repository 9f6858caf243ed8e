"""`translate` over image files: read (any mode), run in batches of equal size, write PNGs of
the input's exact size, keeping the alpha channel of inputs that have one.

This module only adapts files to the per-frame core (`translator.Translator`, which takes a
batch of frames, or `translator.translate_image` for one): `image_io.load_image` with the
network's channel count, `image_io.write_image`, and `outputs.plan_outputs` for the names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import torch

from mosaicgan.data.images import probe_image
from mosaicgan.errors import UserError
from mosaicgan.infer.image_io import load_image, write_image
from mosaicgan.infer.outputs import plan_outputs, png_names
from mosaicgan.infer.translate.translator import Translator
from mosaicgan.ranks import Ranks, share


def batches_by_size(paths: list[Path], sizes: dict[Path, tuple[int, int]], batch_size: int) -> Iterator[list[Path]]:
    """Paths grouped into batches of images that share one size (so they stack)."""
    groups: dict[tuple[int, int], list[Path]] = defaultdict(list)
    for p in paths:
        groups[sizes[p]].append(p)
    for group in groups.values():
        for i in range(0, len(group), batch_size):
            yield group[i : i + batch_size]


def translate_files(
    paths: list[Path],
    *,
    translator: Translator,
    out_dir: str | Path,
    batch_size: int = 4,
    samples: int = 1,
    progress=None,
    overwrite: bool = False,
    ranks: Ranks = Ranks(),
) -> list[Path]:
    """Translate every image in `paths` into `out_dir`; returns the files written. Under torchrun
    (`ranks`) this process translates its share of `paths`, named as one process would."""
    if samples > 1 and not translator.stochastic:
        raise UserError("--samples > 1 needs a generator with dropout kept on at test time "
                        "(trained with nets.dropout_at_test=true); these outputs would be identical")
    mine = share(paths, ranks)
    targets = plan_outputs(paths, out_dir, names=png_names(samples=samples), overwrite=overwrite, mine=set(mine))
    paths = mine
    sizes = {p: probe_image(p, decode=True) for p in paths}  # every input decodes before the first write
    written = []
    for group in batches_by_size(paths, sizes, batch_size):
        loaded = [load_image(p, channels=translator.in_channels) for p in group]
        x = torch.stack([item.image for item in loaded])
        for k in range(samples):
            y = translator(x)
            for path, item, out in zip(group, loaded, y):
                written.append(write_image(out, targets[path][k], alpha=item.alpha))
        if progress is not None:
            progress.update(len(group))
    return written
