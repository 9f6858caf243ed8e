"""Translate image files: read (any mode), run in batches of equal size, write PNGs of the
input's exact size, keeping the alpha channel of inputs that have one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import torch
from PIL import Image

from mosaicgan.data.images import pil_to_tensor, probe_image, read_image, save_image, tensor_to_pil
from mosaicgan.errors import UserError
from mosaicgan.infer.translator import Translator


def has_alpha(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            return img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    except Exception:  # noqa: BLE001  (read_image below gives the one-line error)
        return False


def load_input(path: Path, *, channels: int) -> tuple[torch.Tensor, Image.Image | None]:
    """Image -> ((channels, H, W) tensor in [-1, 1], its alpha band or None)."""
    alpha = None
    if has_alpha(path):
        rgba = read_image(path, mode="RGBA")
        alpha = rgba.getchannel("A")
        img = rgba.convert("RGB")
    else:
        img = read_image(path, mode="RGB")
    return pil_to_tensor(img.convert("L" if channels == 1 else "RGB")), alpha


def output_paths(inputs: list[Path], out_dir: Path, *, samples: int = 1,
                 overwrite: bool = False) -> dict[Path, list[Path]]:
    """name.png per input (name_sK.png for several samples); never an input file itself, nor
    a file that exists already unless `overwrite`."""
    taken: dict[Path, Path] = {}
    result = {}
    inputs_set = {p.resolve() for p in inputs}
    for path in inputs:
        names = [f"{path.stem}.png"] if samples == 1 else [f"{path.stem}_s{k}.png" for k in range(samples)]
        outs = []
        for name in names:
            out = (out_dir / name).resolve()
            if out in taken:
                raise UserError(f"two inputs would both write {out.name} ({taken[out]} and {path})", path=path)
            if out in inputs_set:
                raise UserError("output would overwrite an input; choose another --out", path=out)
            if not overwrite and out.exists():
                raise UserError("already exists; give --overwrite to replace it, or choose another --out", path=out)
            taken[out] = path
            outs.append(out)
        result[path] = outs
    return result


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
) -> list[Path]:
    """Translate every image in `paths` into `out_dir`; returns the files written."""
    out_dir = Path(out_dir)
    if samples > 1 and not translator.stochastic:
        raise UserError("--samples > 1 needs a generator with dropout kept on at test time "
                        "(trained with nets.dropout_at_test=true); these outputs would be identical")
    targets = output_paths(paths, out_dir, samples=samples, overwrite=overwrite)
    sizes = {p: probe_image(p, decode=True) for p in paths}  # every input decodes before the first write
    written = []
    for group in batches_by_size(paths, sizes, batch_size):
        loaded = [load_input(p, channels=translator.in_channels) for p in group]
        x = torch.stack([t for t, _ in loaded])
        for k in range(samples):
            y = translator(x)
            for path, (_, alpha), out in zip(group, loaded, y):
                img = tensor_to_pil(out)
                if alpha is not None:
                    img.putalpha(alpha)
                written.append(save_image(img, targets[path][k]))
        if progress is not None:
            progress.update(len(group))
    return written
