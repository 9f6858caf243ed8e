"""Clean photos -> a paired mosaic-restoration data set, with no hand labels.

For every source image and each of K pairs: a random square crop resized to S x S (the clean
target B), a region inside it (random shapes, or faces / a CAM class found on the whole photo),
and a mosaic of that region with randomly drawn style, block size, grow and feather (the
input A). The output is the aligned layout `train pix2pix` reads:

    OUT/train/NAME_KK.png   A | B side by side (A = mosaicked input, left; B = clean, right)
    OUT/test/NAME_KK.png    the held-out split (all pairs of a source photo in one split)
    OUT/masks/{train,test}/NAME_KK.png   the region before grow/feather (0 / 255)
    OUT/pairs.jsonl         one line per pair: source, crop box, region, mosaic parameters, seed
    OUT/dataset.json        the options, the counts, and a note on what a restorer learns

Reproducible: every random draw of a pair comes from a generator seeded by (seed, source
name, pair number), never from global state, so the same seed gives byte-identical files, and
adding a photo changes no other photo's pairs (the split is drawn from the seed and the list
of names). `apply_mosaic(B, mask, MosaicParams.from_dict(record["mosaic"]))` redoes A exactly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from PIL import Image

from mosaicgan.atomic import atomic_path
from mosaicgan.choices import PAIR_REGION_KINDS
from mosaicgan.data.images import list_images, pil_to_tensor, read_image, save_image, tensor_to_pil
from mosaicgan.data.sampler import derive_seed
from mosaicgan.data.transforms import RandomMosaic, apply_mosaic
from mosaicgan.errors import NothingFound, UserError
from mosaicgan.infer.add.regions import RegionFinder
from mosaicgan.infer.mask_io import write_mask
from mosaicgan.ops.masks import mask_bbox
from mosaicgan.ops.mosaic import STYLES

NOTE = ("Inputs (left) are mosaicked copies of the clean targets (right). A restorer trained on "
        "these pairs synthesizes plausible content for a mosaicked region; it does not recover "
        "what was there.")
CROP_TRIES = 8  # crops drawn per pair before giving up on one that keeps the region


@dataclass(frozen=True)
class PairsOptions:
    """size: side of every pair (crops are resized to size x size).
    crop_range: crop side as a fraction of the photo's short side (low, high).
    block_range: block size in pixels (low, high) at the output size; None sizes blocks from
      the region, a fraction of the square root of its area drawn from fraction_range.
    grow_max, feather_max: the grow and feather of each mosaic are drawn from 0..max pixels.
    recipes: a recipe mix (`data.recipe_mix`: how mosaics are made in the wild) to draw each
      mosaic's recipe from, instead of `styles`; jpeg_prob: the share of inputs re-encoded as
      JPEG (quality 60-95) after mosaicking, as a mosaicked photo saved as JPEG is.
    test_fraction: share of source photos whose pairs go to test/ (at least one photo when
      above 0 and there are two or more)."""

    size: int = 256
    pairs_per_image: int = 4
    test_fraction: float = 0.1
    seed: int = 0
    crop_range: tuple[float, float] = (0.6, 1.0)
    styles: tuple[str, ...] = STYLES
    block_range: tuple[int, int] | None = None
    fraction_range: tuple[float, float] = (0.06, 0.15)
    grow_max: int = 0
    feather_max: int = 0
    recursive: bool = False
    recipes: tuple[tuple[str, float], ...] | None = None
    jpeg_prob: float = 0.0

    def check(self) -> None:
        if not 16 <= self.size <= 4096:
            raise UserError(f"--size must lie in [16, 4096], got {self.size}")
        if self.pairs_per_image < 1:
            raise UserError(f"--pairs-per-image must be at least 1, got {self.pairs_per_image}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise UserError(f"--test-fraction must lie in [0, 1), got {self.test_fraction}")
        if not 0.0 < self.crop_range[0] <= self.crop_range[1] <= 1.0:
            raise UserError(f"crop range must satisfy 0 < low <= high <= 1, got {self.crop_range}")
        bad = [s for s in self.styles if s not in STYLES]
        if not self.styles or bad:
            raise UserError(f"unknown mosaic style {bad[0] if bad else ''!r}; choose from {', '.join(STYLES)}")
        if self.block_range is not None and not 1 <= self.block_range[0] <= self.block_range[1]:
            raise UserError(f"block sizes must satisfy 1 <= min <= max, got {self.block_range}")
        if self.block_range is not None and self.block_range[1] > self.size:
            raise UserError(f"--block-max {self.block_range[1]} exceeds the pair size --size {self.size}")
        low, high = self.fraction_range
        if not 0.0 < low <= high <= 1.0:
            raise UserError(f"--block-fraction LOW HIGH must satisfy 0 < LOW <= HIGH <= 1, got {low} {high}")
        if not 0.0 <= self.jpeg_prob <= 1.0:
            raise UserError(f"--jpeg-prob must lie in [0, 1], got {self.jpeg_prob}")
        if self.grow_max < 0 or self.feather_max < 0:
            raise UserError("--grow-max and --feather-max must be >= 0")
        if max(self.grow_max, self.feather_max) > self.size:
            raise UserError(f"--grow-max and --feather-max must be at most the pair size --size {self.size}")


@dataclass
class PairsSummary:
    sources: int = 0
    train_sources: int = 0
    test_sources: int = 0
    train_pairs: int = 0
    test_pairs: int = 0
    no_region: int = 0  # photos where faces / CAM found nothing (skipped)
    lost_pairs: int = 0  # pairs whose crops all missed the region (skipped)


def pair_name(relative: Path, k: int) -> str:
    """photos/a/b.jpg, 3 -> a__b_03.png: unique across sub-folders, flat in the output."""
    return "__".join(relative.with_suffix("").parts) + f"_{k:02d}.png"


def split_sources(names: list[str], *, test_fraction: float, seed: int) -> set[str]:
    """The names whose pairs go to test/: a seeded draw of round(n * fraction) of them."""
    n = len(names)
    n_test = round(n * test_fraction)
    if test_fraction > 0 and n >= 2:
        n_test = min(max(n_test, 1), n - 1)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(seed, "split")))
    return {names[i] for i in order[:n_test].tolist()}


def _uniform(lo: float, hi: float, generator: torch.Generator) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=generator))


def sample_crop(width: int, height: int, *, crop_range: tuple[float, float], generator: torch.Generator,
                keep: tuple[int, int] | None = None) -> tuple[int, int, int, int]:
    """A square crop (x0, y0, x1, y1) of the photo; with `keep` = (x, y) it holds that pixel."""
    side = max(1, round(_uniform(*crop_range, generator) * min(width, height)))
    ranges = []
    for length, centre in ((width, None if keep is None else keep[0]), (height, None if keep is None else keep[1])):
        lo, hi = 0, length - side
        if centre is not None:  # the crop [x0, x0 + side) must contain the pixel
            lo, hi = max(lo, centre - side + 1), min(hi, centre)
        ranges.append((lo, hi))
    x0, y0 = (lo + int(torch.randint(0, hi - lo + 1, (), generator=generator)) for lo, hi in ranges)
    return x0, y0, x0 + side, y0 + side


def _crop_mask(mask: torch.Tensor, box: tuple[int, int, int, int], size: int) -> torch.Tensor:
    """A 0/1 mask (H, W) cropped to the box and resized to size x size (area-weighted, then
    thresholded at one half, so a region keeps its shape at any scale)."""
    x0, y0, x1, y1 = box
    crop = mask[y0:y1, x0:x1][None, None].float()
    resized = torch.nn.functional.interpolate(crop, size=(size, size), mode="area")[0, 0]
    return (resized >= 0.5).float()


def check_inputs(images: str | Path, out: str | Path, *, finder: RegionFinder, options: PairsOptions) -> list[Path]:
    """Everything that can fail on the user's input, before anything is written: the options,
    a new or empty --out, and every photo decodes. Returns the photos."""
    images, out = Path(images), Path(out)
    options.check()
    if finder.request.kind not in PAIR_REGION_KINDS:
        raise UserError("make-pairs finds regions with random shapes, faces or a CAM class")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError("already exists and is not empty; choose a new --out folder", path=out)
    paths = list_images(images, recursive=options.recursive)
    for path in paths:
        finder.check(path, read_image(path, mode="RGB").size)
    return paths


def make_pairs(
    images: str | Path,
    out: str | Path,
    *,
    finder: RegionFinder,
    options: PairsOptions,
    progress=None,
    paths: list[Path] | None = None,
) -> PairsSummary:
    """Write the data set described in the module docstring; returns the counts.

    `paths` is what `check_inputs` returned, when the caller checked first; otherwise the
    check runs here.
    """
    images, out = Path(images), Path(out)
    if paths is None:
        paths = check_inputs(images, out, finder=finder, options=options)
    names = [p.relative_to(images).as_posix() for p in paths]
    test = split_sources(names, test_fraction=options.test_fraction, seed=options.seed)
    mosaic = RandomMosaic(styles=options.styles, block_range=options.block_range,
                          fraction_range=options.fraction_range, grow_range=(0, options.grow_max),
                          feather_range=(0, options.feather_max), random_offset=True, recipes=options.recipes,
                          jpeg_prob=options.jpeg_prob)
    summary = PairsSummary(sources=len(paths), test_sources=len(test), train_sources=len(paths) - len(test))
    records = []
    for path, name in zip(paths, names, strict=True):
        split = "test" if name in test else "train"
        photo = read_image(path, mode="RGB")
        found = None
        if finder.detected:
            # Faces and CAM look at the whole photo once; each pair's crop then keeps the region.
            found = finder.find(pil_to_tensor(photo), path=path)
            if found.empty:
                summary.no_region += 1
                if progress is not None:
                    progress.update(1)
                continue
        for k in range(options.pairs_per_image):
            seed = derive_seed(options.seed, name, k)
            gen = torch.Generator().manual_seed(seed)
            record = _one_pair(photo, found, finder=finder, mosaic=mosaic, options=options, generator=gen)
            if record is None:
                summary.lost_pairs += 1
                continue
            pair, mask, info = record
            file_name = pair_name(Path(name), k)
            save_image(pair, out / split / file_name)
            write_mask(mask, out / "masks" / split / file_name)  # the layout mask_io.pair_mask_path reads
            records.append({"pair": f"{split}/{file_name}", "mask": f"masks/{split}/{file_name}", "split": split,
                            "source": name, "seed": seed, **info})
            if split == "test":
                summary.test_pairs += 1
            else:
                summary.train_pairs += 1
        if progress is not None:
            progress.update(1)
    if not records:
        raise NothingFound("no pairs were made (no region found in any photo)", path=images)
    with atomic_path(out / "pairs.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records), encoding="utf-8")
    meta = {"note": NOTE, "images": str(images), "region": _request_record(finder),
            "options": asdict(options), "counts": asdict(summary),
            "layout": "aligned: A (mosaicked input) left, B (clean target) right"}
    with atomic_path(out / "dataset.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary


def _request_record(finder: RegionFinder) -> dict:
    request = finder.request
    record = {"kind": request.kind}
    if request.kind == "cam":
        record.update({"class": finder.class_label, "threshold": request.threshold,
                       "classifier": str(request.classifier) if request.classifier else "shipped ImageNet MobileNetV2"})
    if request.kind == "random":
        record.update({"shape_count": list(request.shape_count), "shape_size": list(request.shape_size)})
    return record


def _one_pair(photo: Image.Image, found, *, finder: RegionFinder, mosaic: RandomMosaic, options: PairsOptions,
              generator: torch.Generator):
    """(A|B image, mask (S, S), record fields) for one pair, or None if no crop kept the region."""
    size = options.size
    for _ in range(CROP_TRIES):
        keep = None
        if found is not None:
            box = mask_bbox(found.mask)
            keep = ((box.x0 + box.x1) // 2, (box.y0 + box.y1) // 2)
        crop = sample_crop(photo.width, photo.height, crop_range=options.crop_range, generator=generator, keep=keep)
        clean = photo.crop(crop).resize((size, size), Image.Resampling.BICUBIC)
        target = pil_to_tensor(clean)
        if found is None:
            region = finder.find(target, generator=generator)
            mask, info = region.mask, region.info
        else:
            mask, info = _crop_mask(found.mask, crop, size), found.info
        if (mask > 0).any():
            break
    else:
        return None
    params = mosaic.sample(mask, generator=generator)
    inputs = apply_mosaic(target, mask, params)
    pair = torch.cat([inputs, target], dim=2)
    return tensor_to_pil(pair), mask, {"crop": list(crop), "size": size, "region": info, "mosaic": params.to_dict()}
