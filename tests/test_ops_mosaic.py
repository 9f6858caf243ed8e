import math

import pytest
import torch
import torch.nn.functional as F

from mosaicgan.ops.masks import feather_mask, grow_mask
from mosaicgan.ops.mosaic import STYLES, auto_block_size, block_shape, gaussian_blur, mosaic_region, pixelate
from mosaicgan.ops.shapes import Ellipse, Polygon, draw_shapes


def irregular_mask(h=20, w=24):
    """A tilted ellipse joined to a concave polygon, with a soft rim: no box anywhere."""
    shapes = [Ellipse(8.0, 9.0, 6.0, 3.5, 30.0), Polygon(((12.0, 4.0), (21.0, 6.0), (15.0, 9.0), (20.0, 15.0)))]
    return feather_mask(draw_shapes(shapes, height=h, width=w), width=1)[0]  # (1, H, W)


def call(img, mask, style, **kw):
    gen = torch.Generator().manual_seed(1) if style == "random" else None
    return pixelate(img, mask, style=style, generator=gen, **kw)


def test_block_average_exact_values_with_partial_edge_blocks():
    img = torch.arange(25.0).view(1, 1, 5, 5)
    out = pixelate(img, torch.ones(5, 5), block=2)
    # Blocks cut by the right and bottom borders average only their real pixels.
    expected = torch.tensor(
        [
            [3.0, 3.0, 5.0, 5.0, 6.5],
            [3.0, 3.0, 5.0, 5.0, 6.5],
            [13.0, 13.0, 15.0, 15.0, 16.5],
            [13.0, 13.0, 15.0, 15.0, 16.5],
            [20.5, 20.5, 22.5, 22.5, 24.0],
        ]
    )
    assert torch.equal(out[0, 0], expected)


def test_grid_offset_moves_the_block_lines():
    img = torch.arange(16.0).view(1, 4, 4)  # (C, H, W) works too
    out = pixelate(img, torch.ones(1, 4, 4), block=2, offset=(1, 1))
    # Lines at 1 and 3: blocks {0}, {1, 2}, {3} on each axis.
    expected = torch.tensor(
        [
            [0.0, 1.5, 1.5, 3.0],
            [6.0, 7.5, 7.5, 9.0],
            [6.0, 7.5, 7.5, 9.0],
            [12.0, 13.5, 13.5, 15.0],
        ]
    )
    assert out.shape == img.shape
    assert torch.equal(out[0], expected)


def test_block_larger_than_the_image_is_one_partial_block():
    img = torch.rand(2, 3, 5, 7)
    out = pixelate(img, torch.ones(5, 7), block=16)
    assert torch.allclose(out, img.mean(dim=(2, 3), keepdim=True).expand_as(img))


@pytest.mark.parametrize("style", STYLES)
def test_every_style_changes_only_the_masked_pixels(style):
    img = torch.rand(2, 3, 20, 24) * 2 - 1
    mask = irregular_mask()
    out = call(img, mask, style, block=3, offset=(1, 2))
    outside = (mask == 0).expand_as(img)
    assert torch.equal(out[outside], img[outside])
    inside = (mask == 1).expand_as(img)
    assert not torch.equal(out[inside], img[inside])
    assert out.dtype == img.dtype and out.shape == img.shape


@pytest.mark.parametrize("style", ["median", "random"])
def test_median_and_random_pixel_take_values_present_in_the_block(style):
    img = torch.rand(1, 3, 7, 9)
    bh, bw = 3, 4
    out = call(img, torch.ones(7, 9), style, block=(bh, bw))
    for y0 in range(0, 7, bh):
        for x0 in range(0, 9, bw):
            block = img[0, :, y0 : y0 + bh, x0 : x0 + bw].flatten(1)  # (C, K)
            got = out[0, :, y0 : y0 + bh, x0 : x0 + bw].flatten(1)
            assert (got == got[:, :1]).all()  # constant over the block
            value = got[:, 0]
            if style == "median":
                for c in range(3):
                    assert value[c] in block[c]
                    below = (block[c] < value[c]).sum().item()
                    assert below == (block.shape[1] - 1) // 2  # the lower middle value
            else:  # all channels of one and the same pixel
                assert (block == value[:, None]).all(dim=0).any()


@pytest.mark.parametrize("where", [(slice(7, 11), slice(9, 14)), (slice(0, 3), slice(18, 23))])
def test_a_small_region_gets_the_same_values_as_mosaicking_the_whole_image(where):
    img = torch.rand(2, 3, 17, 23)
    mask = torch.zeros(17, 23)
    mask[where] = 1
    inside = (mask == 1).expand_as(img)
    for style, block, offset in (("average", (3, 5), (1, 2)), ("median", 4, (-1, 3)), ("blur", (2, 3), (0, 0))):
        whole = pixelate(img, torch.ones(17, 23), block=block, style=style, offset=offset)
        part = pixelate(img, mask, block=block, style=style, offset=offset)
        if style == "blur":
            assert torch.allclose(part[inside], whole[inside], atol=1e-6)
        else:
            assert torch.equal(part[inside], whole[inside])
        assert torch.equal(part[~inside], img[~inside])


def test_random_pixel_is_reproducible_and_needs_a_generator():
    img = torch.rand(1, 3, 16, 16)
    a = pixelate(img, torch.ones(16, 16), block=4, style="random", generator=torch.Generator().manual_seed(5))
    b = pixelate(img, torch.ones(16, 16), block=4, style="random", generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="Generator"):
        pixelate(img, torch.ones(16, 16), block=4, style="random")


def test_rectangular_blocks_are_constant_over_their_cells():
    img = torch.rand(1, 2, 12, 12)
    bh, bw = block_shape(4, aspect=2.25)  # wider than tall
    assert (bh, bw) == (3, 6)
    out = pixelate(img, torch.ones(12, 12), block=(bh, bw))
    cells = out.view(1, 2, 12 // bh, bh, 12 // bw, bw)
    assert torch.equal(cells, cells[:, :, :, :1, :, :1].expand_as(cells))
    assert not torch.equal(out[..., :bh, :bw], out[..., :bh, bw : 2 * bw])


def test_blur_removes_high_frequency_energy_inside_only():
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    img = (((yy + xx) % 2) * 2 - 1).float().expand(1, 3, 16, 16)  # checkerboard: all high frequency
    mask = torch.zeros(16, 16)
    mask[4:12, 3:13] = 1
    out = pixelate(img, mask, block=4, style="blur")

    def energy(x):  # squared neighbour differences inside the region
        return (x[..., 5:11, 4:12].diff(dim=-1) ** 2).sum()

    assert energy(out) < 0.01 * energy(img)
    assert torch.equal(out[..., :4, :], img[..., :4, :])


def direct_blur(img, sy, sx):
    """Normalised 2-D convolution with the full Gaussian kernel, the plain way."""

    def taps(s):
        if s == 0:
            return torch.ones(1)
        r = math.ceil(3 * s)
        g = torch.exp(-(torch.arange(-r, r + 1.0) ** 2) / (2 * s * s))
        return g / g.sum()

    k2 = (taps(sy)[:, None] * taps(sx)[None, :])[None, None]
    pad = (k2.shape[2] // 2, k2.shape[3] // 2)
    n, c, h, w = img.shape
    out = F.conv2d(img.reshape(n * c, 1, h, w), k2, padding=pad)
    return (out / F.conv2d(torch.ones(1, 1, h, w), k2, padding=pad)).reshape(n, c, h, w)


@pytest.mark.parametrize("sigma", [(1.5, 2.0), (0.0, 1.0), (2.5, 0.0)])
def test_gaussian_blur_matches_direct_normalised_convolution(sigma):
    img = torch.rand(2, 3, 11, 14)
    assert torch.allclose(gaussian_blur(img, sigma=sigma), direct_blur(img, *sigma), atol=1e-5)


def test_gaussian_blur_edges_and_identity():
    const = torch.full((1, 1, 6, 9), 0.25)  # border pixels average real pixels only
    assert torch.allclose(gaussian_blur(const, sigma=(3.0, 1.5)), const)
    img = torch.rand(1, 2, 5, 5)
    assert torch.equal(gaussian_blur(img, sigma=0.0), img)


def test_batch_with_different_masks_and_block_sizes_per_image():
    img = torch.rand(3, 3, 16, 20)
    masks = torch.zeros(3, 1, 16, 20)
    masks[0, :, 2:9, 3:11] = 1
    masks[1, :, 8:, 12:] = 1
    masks[2] = irregular_mask(16, 20)
    for style in ("average", "median", "blur"):
        out = pixelate(img, masks, block=4, style=style)
        for i in range(3):
            alone = pixelate(img[i], masks[i], block=4, style=style)
            if style == "blur":  # FFT lengths follow the region, so equal up to float rounding
                assert torch.allclose(out[i], alone, atol=1e-6)
            else:
                assert torch.equal(out[i], alone)
    sizes = torch.tensor([2, 5, 2])  # two groups: images 0 and 2, then image 1
    out = pixelate(img, masks, block=sizes)
    for i in range(3):
        assert torch.equal(out[i], pixelate(img[i], masks[i], block=int(sizes[i])))
    gen = torch.Generator().manual_seed(0)
    out = pixelate(img, masks, block=sizes, style="random", generator=gen)
    outside = (masks == 0).expand_as(img)
    assert torch.equal(out[outside], img[outside])


def test_auto_block_size_rules():
    mask = torch.zeros(2, 1, 64, 64)
    mask[0, :, :40, :40] = 1  # 40 x 40 square
    mask[1, :, 30:34, :] = 1  # a 4 x 64 strip
    # sqrt(1600) / 10 = 4; the strip's sqrt(256) / 10 rounds to 2, below min_block.
    assert auto_block_size(mask, fraction=0.1).tolist() == [4, 4]
    assert auto_block_size(mask, fraction=0.25, min_block=1).tolist() == [10, 4]  # sqrt(256) = 16
    assert auto_block_size(mask, fraction=0.25, by="box").tolist() == [10, 16]  # longer side 40, 64
    assert auto_block_size(mask, fraction=1.0, max_block=20).tolist() == [20, 16]
    assert auto_block_size(torch.zeros(8, 8), min_block=6).tolist() == [6]


def test_mosaic_region_touches_nothing_beyond_grow_plus_feather():
    img = torch.rand(1, 3, 24, 24)
    mask = torch.zeros(24, 24)
    mask[10:14, 9:15] = 1
    out = mosaic_region(img, mask, block=3, grow=2, feather=3)
    reach = grow_mask(mask, radius=5, shape="square")[0]
    assert torch.equal(out[:, :, reach[0] == 0], img[:, :, reach[0] == 0])
    core = grow_mask(mask, radius=2)[0, 0] == 1
    assert torch.equal(out[0][:, core], pixelate(img, torch.ones(24, 24), block=3)[0][:, core])


def test_bad_arguments_are_clear_errors():
    img = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="mask is 9x8"):
        pixelate(img, torch.ones(8, 9), block=2)
    with pytest.raises(ValueError, match="style"):
        pixelate(img, torch.ones(8, 8), block=2, style="swirl")
    with pytest.raises(ValueError, match=">= 1"):
        pixelate(img, torch.ones(8, 8), block=0)
    # An empty mask is no error in the pure op: the image comes back unchanged.
    assert torch.equal(pixelate(img, torch.zeros(8, 8), block=2), img)
