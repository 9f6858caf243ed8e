"""Convolutions over small maps as one matrix product (ops/conv_gemm.py, nets/gemm_convs.py):
the same function and gradients as torch's convolutions, switched in place without touching
parameters or checkpoints, and only where it applies."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.nets.gemm_convs import GemmConv2d, GemmConvTranspose2d, use_gemm_for_small_maps
from mosaicgan.nets.resnet_gen import ResNetGenerator
from mosaicgan.nets.unet import UNetGenerator
from mosaicgan.ops import conv_gemm
from mosaicgan.ops.conv_gemm import conv2d_gemm, conv2d_taps, conv_transpose2d_gemm


def random_conv(*, batch: int, size: int | tuple[int, int], in_channels: int, weight_shape: tuple[int, ...],
                bias_channels: int, bias: bool, seed: int) -> tuple[torch.Tensor, ...]:
    """float64 input, weight and (if `bias`) bias, all requiring gradients."""
    h, w = (size, size) if isinstance(size, int) else size
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, in_channels, h, w, generator=gen, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(*weight_shape, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(bias_channels, generator=gen, dtype=torch.float64, requires_grad=True) if bias else None
    return (x, weight) + ((b,) if bias else ())


def assert_same_function(got: torch.Tensor, ref: torch.Tensor, inputs: tuple[torch.Tensor, ...], *, seed: int) -> None:
    """Same shape, values and gradients (for one random output gradient) to float64 rounding."""
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)
    g = torch.randn(ref.shape, generator=torch.Generator().manual_seed(seed), dtype=ref.dtype)
    for a, r in zip(torch.autograd.grad(got, inputs, g), torch.autograd.grad(ref, inputs, g), strict=True):
        torch.testing.assert_close(a, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("batch,size,kernel,stride,padding,bias", [
    (1, 2, 4, 2, 1, False), (3, 4, 4, 2, 1, True), (2, (5, 7), 3, 1, 1, True), (1, 6, 3, (2, 1), (0, 2), False)])
def test_conv2d_gemm_is_conv2d_with_its_gradients(batch, size, kernel, stride, padding, bias):
    inputs = random_conv(batch=batch, size=size, in_channels=5, weight_shape=(6, 5, kernel, kernel), bias_channels=6,
                         bias=bias, seed=batch * 100 + kernel)
    x, weight, b = (*inputs, None)[:3]
    got = conv2d_gemm(x, weight, b, stride=stride, padding=padding)
    assert got.is_contiguous()
    assert_same_function(got, F.conv2d(x, weight, b, stride=stride, padding=padding), inputs, seed=1)


@pytest.mark.parametrize("batch,size,kernel,stride,padding,output_padding,bias", [
    (1, 1, 4, 2, 1, 0, False), (3, 2, 4, 2, 1, 0, True), (2, (3, 5), 3, 2, 1, 1, True), (1, 4, 3, 1, 1, 0, False)])
def test_conv_transpose2d_gemm_is_conv_transpose2d_with_its_gradients(batch, size, kernel, stride, padding,
                                                                       output_padding, bias):
    inputs = random_conv(batch=batch, size=size, in_channels=6, weight_shape=(6, 4, kernel, kernel), bias_channels=4,
                         bias=bias, seed=batch * 100 + kernel)
    x, weight, b = (*inputs, None)[:3]
    kwargs = {"stride": stride, "padding": padding, "output_padding": output_padding}
    assert_same_function(conv_transpose2d_gemm(x, weight, b, **kwargs), F.conv_transpose2d(x, weight, b, **kwargs),
                         inputs, seed=2)


@pytest.mark.parametrize("batch,size,kernel,padding,bias", [(1, (9, 11), 7, 0, True), (2, (8, 8), 5, 2, False),
                                                             (1, (12, 10), (7, 5), (3, 1), True)])
def test_conv2d_taps_is_conv2d_with_its_gradients(batch, size, kernel, padding, bias):
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    inputs = random_conv(batch=batch, size=size, in_channels=5, weight_shape=(3, 5, *k), bias_channels=3, bias=bias,
                         seed=batch * 10 + size[0])
    x, weight, b = (*inputs, None)[:3]
    assert_same_function(conv2d_taps(x, weight, b, padding=padding), F.conv2d(x, weight, b, padding=padding),
                         inputs, seed=3)


def test_conv2d_taps_in_bf16_is_as_close_to_exact_as_torchs():
    # Same bf16 inputs; the exact sum of them as the yardstick. The taps' sum is kept in float32
    # but each tap's product is rounded once, so a little farther than torch's (measured 1.4x).
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 16, 40, 40, generator=gen).bfloat16()
    w = (torch.randn(3, 16, 7, 7, generator=gen) * 0.05).bfloat16()
    exact = F.conv2d(x.double(), w.double())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours, torchs = conv2d_taps(x, w.float(), None), F.conv2d(x, w.float())
    assert ours.dtype == torch.bfloat16

    def err(y):
        return float((y.double() - exact).pow(2).mean().sqrt() / exact.pow(2).mean().sqrt())

    assert err(ours) < 2 * err(torchs) < 0.01


def test_conv2d_taps_keeps_float64_under_autocast_as_torch_does():
    x = torch.randn(1, 4, 12, 12, dtype=torch.float64)
    w = torch.randn(3, 4, 7, 7, dtype=torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours, torchs = conv2d_taps(x, w, None), F.conv2d(x, w)
    assert ours.dtype == torchs.dtype == torch.float64
    torch.testing.assert_close(ours, torchs, rtol=1e-10, atol=1e-10)


def test_conv2d_taps_refuses_a_second_derivative_instead_of_giving_a_wrong_one():
    x = torch.randn(1, 4, 12, 12, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, 7, 7, dtype=torch.float64, requires_grad=True)
    (gx,) = torch.autograd.grad(conv2d_taps(x, w, None).pow(2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        gx.sum().backward()


def small_unet() -> UNetGenerator:
    torch.manual_seed(0)
    return UNetGenerator(num_downs=5, ngf=8, dropout=False)


def test_switched_network_keeps_its_parameters_keys_and_function():
    plain = small_unet()
    switched = copy.deepcopy(plain)
    params = list(switched.parameters())
    count = use_gemm_for_small_maps(switched)
    assert count == 10  # 5 convolutions down, 5 transposed up
    # An optimizer made before still holds them.
    assert all(p is q for p, q in zip(switched.parameters(), params, strict=True))
    assert list(switched.state_dict()) == list(plain.state_dict())
    assert sum(isinstance(m, GemmConv2d) for m in switched.modules()) == 5
    assert sum(isinstance(m, GemmConvTranspose2d) for m in switched.modules()) == 5
    # float64: batch norm over the few values of the inner levels magnifies float32 rounding.
    plain.double().train(), switched.double().train()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ref, got = plain(x), switched(x)
    torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-9)
    g = torch.randn(ref.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ref.backward(g), got.backward(g)
    for (name, p), q in zip(plain.named_parameters(), switched.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-7, atol=1e-9, msg=name)


def counting(monkeypatch) -> dict[str, int]:
    calls = {"conv": 0, "transposed": 0}

    def wrap(fn, key):
        def inner(*args, **kwargs):
            calls[key] += 1
            return fn(*args, **kwargs)
        return inner

    import mosaicgan.nets.gemm_convs as module
    monkeypatch.setattr(module, "conv2d_gemm", wrap(conv2d_gemm, "conv"))
    monkeypatch.setattr(module, "conv_transpose2d_gemm", wrap(conv_transpose2d_gemm, "transposed"))
    return calls


def test_only_small_maps_take_the_matrix_product(monkeypatch):
    calls = counting(monkeypatch)
    conv = nn.Conv2d(4, 4, 4, 2, 1)
    use_gemm_for_small_maps(conv)
    side = int(conv_gemm.SMALL_MAP_POSITIONS**0.5)  # output side * side = the limit: still small
    conv(torch.randn(1, 4, 2 * side, 2 * side))
    assert calls["conv"] == 1
    conv(torch.randn(2, 4, 2 * side, 2 * side))  # twice the positions: torch's kernel
    assert calls["conv"] == 1
    up = nn.ConvTranspose2d(4, 8, 4, 2, 1)  # 8 x 4 x 4 outputs per input pixel: not few
    use_gemm_for_small_maps(up)
    up(torch.randn(1, 4, side, side))
    up(torch.randn(1, 4, 2 * side, side))
    assert calls["transposed"] == 1


def test_convolutions_to_few_channels_with_large_kernels_take_the_taps_path(monkeypatch):
    import mosaicgan.nets.gemm_convs as module

    calls = []
    monkeypatch.setattr(module, "conv2d_taps", lambda *a, **k: calls.append(1) or conv2d_taps(*a, **k))
    to_rgb, wide, small_kernel = nn.Conv2d(8, 3, 7), nn.Conv2d(8, 5, 7), nn.Conv2d(8, 3, 3)
    plain = copy.deepcopy(to_rgb)
    use_gemm_for_small_maps(nn.Sequential(to_rgb, wide, small_kernel))
    x = torch.randn(1, 8, 40, 40)
    torch.testing.assert_close(to_rgb(x), plain(x), rtol=1e-4, atol=1e-5)
    wide(x), small_kernel(x)
    assert len(calls) == 1
    monkeypatch.setattr(conv_gemm, "TAPS_MAX_POSITIONS", 40 * 40 - 1)  # larger maps keep torch's kernel
    to_rgb(x)
    assert len(calls) == 1


def test_switched_resnet_generator_computes_the_same_with_its_last_layer_on_the_taps_path(monkeypatch):
    import mosaicgan.nets.gemm_convs as module

    calls = []
    monkeypatch.setattr(module, "conv2d_taps", lambda *a, **k: calls.append(1) or conv2d_taps(*a, **k))
    torch.manual_seed(0)
    plain = ResNetGenerator(n_blocks=1, ngf=8).double()
    switched = copy.deepcopy(plain)
    use_gemm_for_small_maps(switched)
    x = torch.randn(2, 3, 24, 24, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    ref, got = plain(x), switched(x)
    assert len(calls) == 1  # the 7x7 layer to RGB only
    torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-9)
    g = torch.randn(ref.shape, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    ref.backward(g), got.backward(g)
    for (name, p), q in zip(plain.named_parameters(), switched.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-7, atol=1e-9, msg=name)


def test_transposed_convolutions_to_few_outputs_take_it_at_any_size(monkeypatch):
    calls = counting(monkeypatch)
    to_rgb = nn.ConvTranspose2d(16, 3, 4, 2, 1)  # 3 x 4 x 4 = 48 outputs per input pixel
    plain = copy.deepcopy(to_rgb)
    use_gemm_for_small_maps(to_rgb)
    x = torch.randn(2, 16, 40, 40)
    torch.testing.assert_close(to_rgb(x), plain(x), rtol=1e-4, atol=1e-5)
    assert calls["transposed"] == 1
    wide = nn.ConvTranspose2d(16, 5, 4, 2, 1)  # 80 outputs per pixel
    use_gemm_for_small_maps(wide)
    wide(x)
    assert calls["transposed"] == 1


def test_channels_last_maps_keep_torchs_kernels(monkeypatch):
    calls = counting(monkeypatch)
    x = torch.randn(1, 3, 32, 32)
    nchw = small_unet()
    use_gemm_for_small_maps(nchw)
    nchw(x)
    assert calls == {"conv": 5, "transposed": 5}
    calls.update(conv=0, transposed=0)
    nhwc = small_unet().to(memory_format=torch.channels_last)
    use_gemm_for_small_maps(nhwc)
    nhwc(x.contiguous(memory_format=torch.channels_last))
    assert calls == {"conv": 0, "transposed": 0}  # a channels_last network keeps torch's kernels throughout


def test_exported_or_traced_networks_hold_plain_convolutions(monkeypatch):
    calls = counting(monkeypatch)
    net = small_unet().eval()
    use_gemm_for_small_maps(net)
    x = torch.randn(1, 3, 32, 32)
    exported = str(torch.export.export(net, (x,)).graph_module.code)  # what `mosaicgan export` goes through
    traced = str(torch.jit.trace(net, x, check_trace=False).graph)
    assert calls == {"conv": 0, "transposed": 0}
    for graph in (exported, traced):
        assert "conv" in graph and not any(op in graph for op in ("im2col", "col2im", "fold", "mm("))
    net(x)
    assert calls == {"conv": 5, "transposed": 5}  # eager calls do take it


def test_layers_it_cannot_compute_stay_as_they_are():
    class Custom(nn.Conv2d):
        pass

    layers = [nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"), nn.Conv2d(4, 4, 3, groups=2),
              nn.Conv2d(4, 4, 3, dilation=2), nn.Conv2d(4, 4, 3, padding="same"), Custom(4, 4, 3),
              nn.ConvTranspose2d(4, 4, 3, groups=4)]
    assert use_gemm_for_small_maps(nn.Sequential(*layers)) == 0
    assert [type(m) for m in layers] == [nn.Conv2d] * 4 + [Custom, nn.ConvTranspose2d]
