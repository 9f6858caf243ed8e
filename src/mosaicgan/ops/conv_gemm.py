"""Convolutions over small feature maps as one matrix product each.

The inner layers of a U-Net see feature maps of 1x1 to 16x16 with 512-1024 channels: little
arithmetic and a large weight (1024x512x4x4 = 8.4 M values). On the CPU, oneDNN's kernels spend
most of such a call reordering the weight into their blocked layout (pix2pix's inner layers ran
at 5-60 GFLOP/s on a 2-core EPYC, against ~200 for the large ones). Unfolding the few input
patches and doing a single plain matrix product reads the weight once, in its own layout: the
same sums, in another order (float32 agrees to rounding).

The layouts are chosen so that every weight-sized tensor, forward and backward (the bf16 cast of
the weight, its gradient and that gradient's cast back), stays contiguous: strided copies of
weight-sized tensors cost more than the product itself. Only the activation side, at most
`SMALL_MAP_POSITIONS` columns of patches, is ever transposed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Above this many output positions (batch x height x width) per matrix product, oneDNN's own
# kernel is as fast or faster (benchmarks/train_speed.py; 2-core EPYC, bf16 and float32).
SMALL_MAP_POSITIONS = 256
# A transposed convolution to this many outputs per input pixel (out channels x kernel area) or
# fewer, such as a generator's last layer to RGB (3 x 4 x 4), wastes most of each of oneDNN's
# vectors, which run along the output channels; the matrix product runs along the pixels
# (pix2pix's last layer at 128 -> 256 px: 14 -> 8 ms forward and backward at batch 1, bf16).
FEW_TRANSPOSED_OUTPUTS = 64


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def conv2d_gemm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, *,
                stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0) -> torch.Tensor:
    """F.conv2d (zero padding, no dilation or groups) as unfold + one matrix product."""
    n, _, h, w = x.shape
    co, ci, kh, kw = weight.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    cols = F.unfold(x, (kh, kw), padding=(ph, pw), stride=(sh, sw))  # (n, ci*kh*kw, oh*ow)
    cols = cols[0] if n == 1 else cols.transpose(0, 1).reshape(ci * kh * kw, n * oh * ow)
    out = torch.mm(weight.reshape(co, ci * kh * kw), cols)  # (co, n*oh*ow); dW = g @ cols^T, contiguous
    out = out.view(co, n, oh, ow).transpose(0, 1) if n > 1 else out.view(1, co, oh, ow)
    if bias is not None:
        out = out + bias.view(1, co, 1, 1).to(out.dtype)
    return out.contiguous()


def conv_transpose2d_gemm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, *,
                          stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                          output_padding: int | tuple[int, int] = 0) -> torch.Tensor:
    """F.conv_transpose2d (no dilation or groups) as one matrix product + fold (col2im)."""
    n, ci, h, w = x.shape
    _, co, kh, kw = weight.shape
    (sh, sw), (ph, pw), (oph, opw) = _pair(stride), _pair(padding), _pair(output_padding)
    oh, ow = (h - 1) * sh - 2 * ph + kh + oph, (w - 1) * sw - 2 * pw + kw + opw
    rows = x.view(1, ci, h * w)[0] if n == 1 else x.transpose(0, 1).reshape(ci, n * h * w)
    # (n*h*w, co*kh*kw) = rows^T @ W: the weight enters untransposed, so its gradient
    # rows @ g is contiguous too; the transposes are on the (small) activation side.
    cols = torch.mm(rows.t(), weight.reshape(ci, co * kh * kw))
    cols = cols.view(n, h * w, co * kh * kw).transpose(1, 2)  # (n, co*kh*kw, h*w) for fold
    out = F.fold(cols, (oh, ow), (kh, kw), padding=(ph, pw), stride=(sh, sw))
    if bias is not None:
        out = out + bias.view(1, co, 1, 1).to(out.dtype)
    return out


def gemm_positions(*, batch: int, height: int, width: int) -> bool:
    """Whether a product over batch x height x width positions is small enough for the GEMM path."""
    return batch * height * width <= SMALL_MAP_POSITIONS


def gemm_transposed(*, batch: int, height: int, width: int, outputs_per_pixel: int) -> bool:
    """Whether a transposed convolution of this input size and out channels x kernel area
    takes the GEMM path: small maps, or few outputs per input pixel at any size."""
    return outputs_per_pixel <= FEW_TRANSPOSED_OUTPUTS or gemm_positions(batch=batch, height=height, width=width)
