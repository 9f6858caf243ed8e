"""ops.reflect_pad and the nets' ReflectionPad2d: torch's reflection padding and its gradient,
computed in the input's dtype under autocast; and contiguous_grad, the U-Net's identity with a
contiguous gradient."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.nets.layers import ReflectionPad2d, contiguous_grad
from mosaicgan.ops.reflect_pad import reflect_pad2d


@pytest.mark.parametrize("pad,shape", [(1, (2, 3, 5, 6)), (3, (1, 2, 7, 4)), (2, (1, 1, 3, 3)), (1, (1, 4, 2, 2))])
def test_reflect_pad2d_is_torchs_with_its_gradient(pad, shape):
    gen = torch.Generator().manual_seed(pad)
    x = torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)
    ref, got = F.pad(x, (pad,) * 4, mode="reflect"), reflect_pad2d(x, pad)
    assert torch.equal(got, ref)
    g = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(got, x, g)[0], torch.autograd.grad(ref, x, g)[0],
                               rtol=1e-12, atol=1e-12)


def test_reflect_pad2d_keeps_bf16_under_autocast_where_torchs_casts_up():
    x = torch.randn(1, 2, 6, 6).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert F.pad(x, (1,) * 4, mode="reflect").dtype == torch.float32  # what this avoids
        assert reflect_pad2d(x, 1).dtype == torch.bfloat16
        assert ReflectionPad2d(1)(x).dtype == torch.bfloat16
    assert torch.equal(reflect_pad2d(x, 1), F.pad(x.float(), (1,) * 4, mode="reflect").bfloat16())


def test_reflect_pad2d_refuses_a_pad_as_large_as_the_map():
    with pytest.raises(ValueError, match="reflection padding 3"):
        reflect_pad2d(torch.zeros(1, 1, 3, 8), 3)


@pytest.mark.parametrize("padding", [2, (1, 2, 0, 3)])
def test_the_layer_is_torchs_layer(padding):
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    assert torch.equal(ReflectionPad2d(padding)(x), nn.ReflectionPad2d(padding)(x))
    assert isinstance(ReflectionPad2d(1), nn.ReflectionPad2d)  # same modules, same checkpoints


def test_contiguous_grad_is_the_identity_with_a_contiguous_gradient():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    y = contiguous_grad(x)
    assert torch.equal(y, x)
    seen = []
    x.register_hook(lambda g: seen.append(g.is_contiguous()))
    torch.cat([y, torch.zeros(2, 5, 4, 4)], dim=1).sum().backward()  # the cat hands back a strided slice
    assert seen == [True]
    z = torch.randn(2, 3, 4, 4, requires_grad=True)
    z.register_hook(lambda g: seen.append(g.is_contiguous()))
    torch.cat([z, torch.zeros(2, 5, 4, 4)], dim=1).sum().backward()
    assert seen == [True, False]  # what it prevents
