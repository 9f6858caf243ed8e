"""The per-frame restoration core: `load_restorer()` and `Restorer.restore(image, mask, grid=...)`.

A restorer replaces the pixels of a mosaicked region (mask > 0) with an estimate and leaves
every other pixel exactly as it was. Each connected region is handled in a crop around it
(its blocks plus a margin of context blocks, on the mosaic's grid), so a small region in a
large photo costs what the region costs. Two kinds:
- "network": the lattice restorer (nets.restorer) from a checkpoint; with no checkpoint, the
  one shipped in mosaicgan/assets (see assets/README.md);
- "classical": the projected bicubic base of `ops.unmosaic.classical_restore`, no learning; the
  fallback while no shipped weights exist, and the baseline the network is measured against.
What either puts in the region is synthesized from the block means, not recovered.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.infer.precision import autocast, check_precision, resolve_precision
from mosaicgan.ops.blend import composite
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import Box, as_mask, mask_to_boxes
from mosaicgan.ops.unmosaic import (
    block_layout,
    block_means,
    classical_restore,
    full_blocks,
    lattice_features,
    project_means,
    resample,
)

SHIPPED_WEIGHTS = "restorer.safetensors"
MARGIN_BLOCKS = 6  # context around a region, in blocks: about the network's reach on the lattice


def shipped_restorer_path() -> Path:
    return Path(str(importlib.resources.files("mosaicgan") / "assets" / SHIPPED_WEIGHTS))


@dataclass
class Restorer:
    """name, kind ("network" | "classical"), checkpoint and sha256 (None for classical) name
    the model for provenance metadata."""

    name: str
    kind: str
    net: torch.nn.Module | None = None
    checkpoint: Path | None = None
    sha256: str | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    flips: int = 1  # 1: the network once; 2 or 4: averaged over mirror images (see _run_net)
    # auto: bf16 autocast where native (the shipped restorer on 8 Set14 photos, block 12: restoring
    # 1.3x faster on an AVX512-BF16 CPU, PSNR in the region 21.166 against 21.167 dB in float32).
    precision: str = "auto"

    def __post_init__(self) -> None:
        check_precision(self.precision, self.device)
        self.precision = resolve_precision(self.precision, self.device)

    def describe(self) -> dict[str, str]:
        info = {"restorer": self.name, "restorer_kind": self.kind}
        if self.sha256:
            info["restorer_sha256"] = self.sha256
        return info

    @torch.no_grad()
    def restore(self, image: torch.Tensor, mask: torch.Tensor, *, grid: Grid) -> torch.Tensor:
        """image (C, H, W) float in [-1, 1], mask (1, H, W) or (H, W) in [0, 1], the mosaic's grid.
        Returns a new (C, H, W): where mask == 0 the input bit for bit, elsewhere blended
        (soft masks in part) with the estimate."""
        if image.ndim != 3:
            raise ValueError(f"image must be (C, H, W), got {tuple(image.shape)}")
        m = as_mask(mask, image=image)[0]
        out = image.clone()
        boxes = mask_to_boxes(m, threshold=0.0)
        for region in boxes:
            crop = crop_on_grid(region, grid, height=image.shape[1], width=image.shape[2], margin=MARGIN_BLOCKS)
            x0, y0, x1, y1 = crop
            local = Grid(grid.block_h, grid.block_w, grid.offset_y - y0, grid.offset_x - x0)
            pixels = image[None, :, y0:y1, x0:x1].to(self.device, torch.float32)
            region_mask = torch.zeros_like(m[:, y0:y1, x0:x1])
            ry0, ry1, rx0, rx1 = region.y0 - y0, region.y1 - y0, region.x0 - x0, region.x1 - x0
            region_mask[:, ry0:ry1, rx0:rx1] = m[:, region.y0 : region.y1, region.x0 : region.x1]
            crop_mask = m[None, :, y0:y1, x0:x1].to(self.device, torch.float32)
            estimate = self._estimate(pixels, crop_mask, local)
            out[:, y0:y1, x0:x1] = composite(out[:, y0:y1, x0:x1], estimate[0].to(image.dtype).cpu(), region_mask)
        return out

    def _estimate(self, pixels: torch.Tensor, mask: torch.Tensor, grid: Grid) -> torch.Tensor:
        if self.net is None:
            return classical_restore(pixels, mask, grid)
        h, w = pixels.shape[-2:]
        lay = block_layout(grid, height=h, width=w)
        features = lattice_features(pixels, mask, grid, scale=self.net.scale)
        lattice = self._run_net(features)
        full = resample(lattice, (lay.rows * lay.block_h, lay.cols * lay.block_w))
        full = full[..., lay.top : lay.top + h, lay.left : lay.left + w]
        # Resampling to the real block size moves the block means a little: project again.
        means = block_means(pixels, grid)
        return project_means(full, means, grid, where=full_blocks(mask, grid)).clamp(-1, 1)


    def _run_net(self, features: torch.Tensor) -> torch.Tensor:
        """The network's output, averaged over the `flips` mirror images of its input (each
        flipped back): a cheap ensemble, since the lattice network costs little. Each output
        has the observed block means, so their average has them too."""
        dims_list = [(), (-1,), (-2,), (-2, -1)][: self.flips]
        total = None
        for dims in dims_list:
            x = features.flip(dims) if dims else features
            with autocast(self.device, self.precision):
                y = self.net(x).float()
            y = y.flip(dims) if dims else y
            total = y if total is None else total + y
        return total / len(dims_list)


def crop_on_grid(region: Box, grid: Grid, *, height: int, width: int, margin: int) -> Box:
    """The region's box widened by `margin` blocks and out to the grid lines, cut to the image."""
    def span(lo: int, hi: int, block: int, line: int, limit: int) -> tuple[int, int]:
        lo = line + (lo - line) // block * block - margin * block
        hi = line - (line - hi) // block * block + margin * block
        return max(lo, 0), min(hi, limit)

    y0, y1 = span(region.y0, region.y1, grid.block_h, grid.offset_y, height)
    x0, x1 = span(region.x0, region.x1, grid.block_w, grid.offset_x, width)
    return Box(x0, y0, x1, y1)


def classical_restorer(*, device: str | torch.device = "cpu") -> Restorer:
    return Restorer(name="classical bicubic-of-block-means + projection", kind="classical",
                    device=torch.device(device))


def load_restorer(
    checkpoint: Path | str | None = None, *, device: str | torch.device = "cpu", flips: int = 4,
    precision: str = "auto",
) -> Restorer:
    """A restorer checkpoint (kind "restorer", a file or a run folder), or with None the shipped
    default (the classical restorer if this installation ships no weights). A checkpoint of
    another kind raises UserError naming the file. `flips`: 1, 2 or 4 passes of the network
    over mirror images of its input, averaged."""
    if flips not in (1, 2, 4):
        raise ValueError(f"flips must be 1, 2 or 4, got {flips}")
    device = torch.device(device)
    if checkpoint is None:
        checkpoint = shipped_restorer_path()
        if not checkpoint.is_file():
            return classical_restorer(device=device)
    loaded = load_checkpoint(checkpoint, device=device, kind="restorer")
    net = loaded.nets["restorer"].float()
    path = Path(loaded.path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    name = str(loaded.extra.get("name", path.name))
    # Four mirror images: +0.04 to +0.06 dB over one pass on Set14 (blocks 8, 12, 16), at four
    # times the network's cost, which is small beside the rest of a restore.
    return Restorer(name=name, kind="network", net=net, checkpoint=path, sha256=digest, device=device,
                    flips=flips, precision=precision)
