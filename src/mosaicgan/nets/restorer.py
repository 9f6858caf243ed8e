"""The mosaic restorer: super-resolution from the block lattice, over a smooth base.

An average mosaic is a low-resolution image (one mean per block) shown at full size, so the
network works on the lattice of blocks, one position per block, and only its last layer
reaches pixel resolution (pixel shuffle, ESPCN-style). Every block is resampled to a fixed
`scale` x `scale` pixels: one network for any block size (the caller resizes the output to
the real block size; `log2(block / scale)` is an input so the network knows how far).
Working on the lattice costs 1/scale^2 of a full-resolution network of the same depth, which
is what makes training it on a CPU possible.

The output is a residual over the smooth base (bicubic interpolation of the block means at
the block centres), followed by the projection onto the observed means of the blocks fully
inside the mask (`ops.unmosaic.project_means`), so that the network can never contradict
what the mosaic shows.

With `families` > 0 the network also knows how the mosaic was made (`localize.mosaics.recipe`):
a small head reads the recipe statistics of the region and gives a probability per recipe
family; the body sees them as extra input channels, the values are read at their sample
positions (a top-left-pixel mosaic's values sit half a block up and left of the block centres)
and the projection is weighted by how sure the head is: onto the block means for "average",
a clamp from below / above for "min" / "max", none for single pixels, whose value says little
about the block's mean. Without it (families = 0, the first shipped restorer) every mosaic is
read as a mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.nets.registry import register_net

FEATURES = 7  # see ops.unmosaic.lattice_features
# Order of localize.mosaics.recipe.FAMILIES (nets import nothing above them, so it is repeated
# here; a test checks that the two agree).
AVERAGE, TOP_LEFT, MIN, MAX = 0, 2, 3, 4


class _ResBlock(nn.Module):
    def __init__(self, width: int, res_scale: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.conv2(F.relu(self.conv1(x)))


class LatticeRestorer(nn.Module):
    """Input: (N, 7, rows, cols) from `ops.unmosaic.lattice_features` (block means in [-1, 1],
    share inside the mask, fully-inside flag, log2 block/scale per axis), and with families > 0
    `recipe`: (N, families) probabilities from `recipe_probabilities` (None: "average", the
    recipe of `mosaicgan add`).
    Output: (N, 3, rows * scale, cols * scale) in [-1, 1], each block `scale` x `scale` pixels.

    width: channels of the lattice body; blocks: residual blocks (EDSR-style, no norm);
    scale: pixels per block side at the output; families, stats: the recipe head's outputs and
    inputs (0: no head). The last convolution starts at zero, so an untrained network returns
    the projected smooth base, the classical restoration."""

    def __init__(self, *, width: int = 48, blocks: int = 6, scale: int = 8, out_channels: int = 3,
                 families: int = 0, stats: int = 0) -> None:
        super().__init__()
        self.scale, self.out_channels, self.families = scale, out_channels, families
        self.head = nn.Conv2d(FEATURES + families, width, 3, padding=1)
        self.body = nn.Sequential(*[_ResBlock(width, res_scale=0.5) for _ in range(blocks)])
        self.tail = nn.Conv2d(width, out_channels * scale * scale, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)
        if families:
            # Statistics differ in scale by orders of magnitude: standardised by running batch
            # statistics (kept in the checkpoint), then a small MLP.
            self.recipe_head = nn.Sequential(nn.BatchNorm1d(stats), nn.Linear(stats, 64), nn.ReLU(),
                                             nn.Linear(64, families))
        self.size_multiple = 1

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Also takes the weights of a restorer without a recipe head (families = 0, the first
        shipped restorer) into one with a head: its input layer gets zero weights for the new
        channels and the head stays as initialised, so it starts as the old network, reading
        every mosaic as block means. That is how `--init-from` trains a head onto it."""
        state = dict(state_dict)
        old = state.get("head.weight")
        if self.families and old is not None and old.shape[1] == FEATURES and not any(
                k.startswith("recipe_head.") for k in state):
            grown = torch.zeros_like(self.head.weight)
            grown[:, :FEATURES] = old
            state["head.weight"] = grown
            state.update({f"recipe_head.{k}": v for k, v in self.recipe_head.state_dict().items()})
        return super().load_state_dict(state, strict=strict, assign=assign)

    def recipe_logits(self, stats: torch.Tensor) -> torch.Tensor:
        """(N, stats) from `localize.mosaics.recipe.recipe_statistics` -> (N, families) logits."""
        return self.recipe_head(stats)

    def recipe_probabilities(self, stats: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.recipe_logits(stats).float(), dim=1)

    def forward(self, features: torch.Tensor, recipe: torch.Tensor | None = None) -> torch.Tensor:
        s = self.scale
        means = features[:, : self.out_channels]
        full = features[:, self.out_channels + 1 : self.out_channels + 2]
        inputs, read = features, means
        if self.families:
            if recipe is None:  # block means (nothing to move: the graph ONNX export writes)
                recipe = features.new_zeros(features.shape[0], self.families)
                recipe[:, AVERAGE] = 1
            else:
                recipe = recipe.to(features.dtype)
                read = _centred(means, features[:, self.out_channels + 2 :], recipe[:, TOP_LEFT], scale=s)
            planes = recipe[:, :, None, None].expand(-1, -1, *features.shape[-2:])
            inputs = torch.cat([read, features[:, self.out_channels :], planes], dim=1)
        h = F.relu(self.head(inputs))
        h = h + self.body(h)
        residual = F.pixel_shuffle(self.tail(h), s)
        # By size, not scale_factor: the same sampling (bit for bit), in integer sizes that torch
        # 2.9's exporter can follow for any input size (it refused the float product).
        size = (features.shape[-2] * s, features.shape[-1] * s)
        base = F.interpolate(read, size=size, mode="bicubic", align_corners=False)
        out = base + residual
        # The projection of ops.unmosaic.project_means, on this aligned lattice: fast form;
        # with a recipe head, only as far as the head believes the values are block means.
        weight = full if not self.families else full * recipe[:, AVERAGE, None, None, None]
        shift = (means - F.avg_pool2d(out, s)) * weight
        out = out + F.interpolate(shift, size=size, mode="nearest")
        if self.families:  # min / max: every pixel of a block lies above / below its value
            bound = F.interpolate(means, size=size, mode="nearest")
            inside = F.interpolate(full, size=size, mode="nearest")
            low = recipe[:, MIN, None, None, None] * inside
            high = recipe[:, MAX, None, None, None] * inside
            out = out + low * (torch.maximum(out, bound) - out) + high * (torch.minimum(out, bound) - out)
        return out.clamp(-1, 1)


def _centred(values: torch.Tensor, log_sizes: torch.Tensor, top_left: torch.Tensor, *, scale: int) -> torch.Tensor:
    """The values at the block centres, for values a top-left-pixel mosaic measured at the blocks'
    first pixels ((b - 1) / 2 pixels up and left of the centre), in proportion to `top_left`
    (N,): bicubic interpolation along the lattice, edges held."""
    n, _, rows, cols = values.shape
    block = scale * torch.exp2(log_sizes[:, :, 0, 0].float())  # (N, 2): block_h, block_w in pixels
    shift = top_left[:, None].float() * (block - 1) / (2 * block)  # in blocks, towards the centre
    if rows < 2 or cols < 2:
        return values
    # align_corners=True: lattice index k at -1 + 2k / (count - 1); the value at the centre of
    # block k was measured at index k + shift.
    theta = values.new_zeros(n, 2, 3)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = 1
    theta[:, 0, 2] = 2 * shift[:, 1] / (cols - 1)
    theta[:, 1, 2] = 2 * shift[:, 0] / (rows - 1)
    grid = F.affine_grid(theta, [n, values.shape[1], rows, cols], align_corners=True)
    return F.grid_sample(values, grid, mode="bicubic", padding_mode="border", align_corners=True)


@register_net("restorer", kind="restorer", summary="mosaic restorer: lattice SR over a smooth base + projection",
              defaults={"width": 48, "blocks": 6, "scale": 8})
def restorer(**kwargs) -> LatticeRestorer:
    return LatticeRestorer(**kwargs)
