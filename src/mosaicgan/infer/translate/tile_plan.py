"""How a generator runs on a batch within memory: whole, in smaller batches, or tile by tile.

A fully convolutional generator's working memory grows with the pixels it sees (unet_256: about
550 bytes per padded pixel in fp32, so a 12 MP photo takes ~7 GB and ~45 MP does not fit in
24 GB). `plan_run` measures that rate once on a small probe, compares it with the memory free on
the device, and picks the gentlest change that fits: the whole batch at once; fewer images per
forward (outputs unchanged); or, for an image too large on its own, tiles (`ops.tiles.run_tiled`)
of the largest size that fits. Tiles change the output: a tile sees only its own context (see
`Translator` and the README for the measured difference).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from mosaicgan.infer.precision import autocast, check_precision, resolve_precision  # noqa: F401  (re-exported)

# Share of the free memory a run may plan to use: the rest is headroom for the allocator, the
# input and output images, and whatever else runs on the machine.
MEMORY_SHARE = 0.5
# Besides the network's activations, each image pixel costs its input, padded copy, blended
# output, blend weights and the cropped result: a few float32 planes.
IMAGE_BYTES_PER_PIXEL = 64
# Above what the generators here need per pixel (unet_256 ~550, resnet_9blocks ~2000, images
# included): a batch that fits at this rate runs whole without probing the network.
GENEROUS_BYTES_PER_PIXEL = 8192


@dataclass(frozen=True)
class RunPlan:
    batch: int  # images per forward
    tile: int  # 0: whole images
    overlap: int


def available_bytes(device: torch.device) -> int:
    """Memory this process could still take on `device`: free CUDA memory plus what torch's
    cache holds unused; on the CPU, Linux's MemAvailable (else a quarter of physical memory)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError, AttributeError):
        return 4 << 30




@torch.no_grad()
def activation_bytes_per_pixel(net: nn.Module, *, in_channels: int, multiple: int, device: torch.device,
                               precision: str = "fp32") -> float:
    """Bytes of every tensor the layers of `net` produce, per input pixel, on a probe of
    2 x `multiple` pixels a side (at least 64). An upper bound of the working memory: it counts
    each layer's output as if none were freed before the forward ends (a U-Net keeps most of
    them anyway, for its skips); unet_256 gives ~550 where the growth of the resident memory
    measured ~500."""
    side = max(64, 2 * multiple)
    kept: dict[int, int] = {}
    alive: list[torch.Tensor] = []  # held until the end, so no storage is reused and counted twice

    def hook(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            alive.append(output)
            kept[output.untyped_storage().data_ptr()] = output.untyped_storage().nbytes()

    leaves = [m for m in net.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    # A generator that keeps dropout on draws random numbers: the probe must not shift them.
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), autocast(device, precision):
            net(torch.zeros(1, in_channels, side, side, device=device))
    finally:
        for h in handles:
            h.remove()
    return sum(kept.values()) / (side * side)


def round_down(value: int, multiple: int) -> int:
    return value // multiple * multiple


def default_overlap(tile: int, multiple: int) -> int:
    """A quarter of the tile rounded up onto the network's stride grid, less than the tile."""
    quarter = -(-tile // 4)
    return min(-(-quarter // multiple) * multiple, tile - multiple)


def plan_run(*, batch: int, height: int, width: int, multiple: int, bytes_per_pixel: float, budget: int) -> RunPlan:
    """The largest batch, else the largest tile (a multiple of `multiple`, at least 2 x `multiple`
    and 128 pixels: smaller tiles would be mostly overlap), whose working memory stays within
    `budget` bytes. `height`, `width`: padded image size."""
    pixels = height * width
    per_image = pixels * (bytes_per_pixel + IMAGE_BYTES_PER_PIXEL)
    if per_image * batch <= budget:
        return RunPlan(batch=batch, tile=0, overlap=0)
    if per_image <= budget:
        return RunPlan(batch=max(1, int(budget // per_image)), tile=0, overlap=0)
    left = max(0.0, budget - pixels * IMAGE_BYTES_PER_PIXEL)
    tile = round_down(int((left / bytes_per_pixel) ** 0.5), multiple)
    tile = max(tile, -(-max(2 * multiple, 128) // multiple) * multiple)
    if tile >= max(height, width):
        return RunPlan(batch=1, tile=0, overlap=0)
    return RunPlan(batch=1, tile=tile, overlap=default_overlap(tile, multiple))
