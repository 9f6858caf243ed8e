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
from torch.autograd.function import once_differentiable

from mosaicgan.ops.cpu_autocast import cpu_autocast

# Above this many output positions (batch x height x width) per matrix product, oneDNN's own
# kernel is as fast or faster (benchmarks/train_speed.py; 2-core EPYC, bf16 and float32).
SMALL_MAP_POSITIONS = 256
# A transposed convolution to this many outputs per input pixel (out channels x kernel area) or
# fewer, such as a generator's last layer to RGB (3 x 4 x 4), wastes most of each of oneDNN's
# vectors, which run along the output channels; the matrix product runs along the pixels
# (pix2pix's last layer at 128 -> 256 px: 14 -> 8 ms forward and backward at batch 1, bf16).
FEW_TRANSPOSED_OUTPUTS = 64
# The same weakness for ordinary convolutions to few channels with a large kernel (CycleGAN's
# last 7x7 layer to RGB at 256x256: 104 -> 41 ms forward and backward in bf16, 193 -> 83 in
# float32, 1 thread; the whole bf16 CycleGAN step 11.1 -> 10.7 s); see conv2d_taps.
FEW_CONV_OUTPUTS = 4
TAPS_KERNEL_AREA = 25
# Each sample's product holds kernel area x out channels values per input position, forward and
# again backward (7x7 to RGB: 147 per position, 40 MB at 262x262 in float32, 600 MB at 1024x1024):
# larger maps keep torch's kernel.
TAPS_MAX_POSITIONS = 512 * 512


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


def _sum_dtype(dtype: torch.dtype) -> torch.dtype:
    # Sums over taps or samples in float32 at least: bf16/fp16 partial sums would each round.
    return torch.float32 if dtype in (torch.bfloat16, torch.float16) else dtype


class _Taps(torch.autograd.Function):
    """out = sum over kernel taps t of shift_t(W_t @ x): one product over all taps, then the
    shifted (small) outputs added up; the backward places the output gradient at each tap's
    shift and runs two products. x (n, ci, H, W) is already padded, stride 1.

    Plain 2-D products per sample: a batched matmul against a transposed operand copied the
    input or broadcast the taps each call (66 ms forward and backward for CycleGAN's last layer
    in bf16, against 34 ms this way and 95 ms for torch's convolution, in one micro-benchmark on
    a 2-core EPYC, 1 thread; another run: 41 ms against 104)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, taps: torch.Tensor, kh: int, kw: int) -> torch.Tensor:
        n, ci, h, w = x.shape
        co = taps.shape[0] // (kh * kw)
        oh, ow = h - kh + 1, w - kw + 1
        rows = x.reshape(n, ci, h * w)
        out = torch.zeros(n, co, oh, ow, dtype=_sum_dtype(taps.dtype), device=x.device)
        for i in range(n):
            y = torch.mm(taps, rows[i]).view(kh * kw, co, h, w)
            for t in range(kh * kw):
                dy, dx = divmod(t, kw)
                out[i] += y[t, :, dy:dy + oh, dx:dx + ow]
        ctx.save_for_backward(x, taps)
        ctx.kernel = (kh, kw)
        return out.to(taps.dtype)

    @staticmethod
    @once_differentiable  # mm(out=) and the slice writes have no graph: a clear error, not a wrong one
    def backward(ctx, g: torch.Tensor):
        x, taps = ctx.saved_tensors
        (kh, kw), (n, ci, h, w) = ctx.kernel, x.shape
        co, oh, ow = g.shape[1], g.shape[2], g.shape[3]
        rows = x.reshape(n, ci, h * w)
        gx = torch.empty(x.shape, dtype=x.dtype, device=x.device) if ctx.needs_input_grad[0] else None
        gt = (torch.zeros(taps.shape, dtype=_sum_dtype(taps.dtype), device=taps.device)
              if ctx.needs_input_grad[1] else None)
        # Zeroed once: every sample writes the same places.
        gy = torch.zeros(kh * kw, co, h, w, dtype=taps.dtype, device=g.device)
        for i in range(n):
            for t in range(kh * kw):
                dy, dx = divmod(t, kw)
                gy[t, :, dy:dy + oh, dx:dx + ow] = g[i]
            flat = gy.view(kh * kw * co, h * w)
            if gx is not None:
                torch.mm(taps.t(), flat, out=gx[i].view(ci, h * w))
            if gt is not None:
                gt += torch.mm(flat, rows[i].t())
        return gx, None if gt is None else gt.to(taps.dtype), None, None


def _autocast_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype autocast would run a convolution of `x` in (the path is CPU-only): its lower
    precision for float32 inputs when autocast is on, else x's own (autocast leaves float64 be)."""
    if x.dtype != torch.float32:
        return x.dtype
    on, dtype = cpu_autocast()
    return dtype if on else x.dtype


def conv2d_taps(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, *,
                padding: int | tuple[int, int] = 0) -> torch.Tensor:
    """F.conv2d at stride 1 (zero padding, no dilation or groups) for few output channels and
    a large kernel, such as a generator's last 7x7 layer to RGB: oneDNN vectorizes along the
    output channels and wastes most of each vector on 3 of them (40 GFLOP/s, against ~200 for
    wide layers, on a 2-core EPYC), while one product of all kernel taps with the input runs
    along the pixels."""
    co, ci, kh, kw = weight.shape
    ph, pw = _pair(padding)
    if ph or pw:
        x = F.pad(x, (pw, pw, ph, ph))
    taps = weight.permute(2, 3, 0, 1).reshape(kh * kw * co, ci)
    dtype = _autocast_dtype(x)
    out = _Taps.apply(x.to(dtype), taps.to(dtype), kh, kw)
    if bias is not None:
        out = out + bias.view(1, co, 1, 1).to(out.dtype)
    return out


def gemm_positions(*, batch: int, height: int, width: int) -> bool:
    """Whether a product over batch x height x width positions is small enough for the GEMM path."""
    return batch * height * width <= SMALL_MAP_POSITIONS


def gemm_taps(*, out_channels: int, kernel: tuple[int, int], stride: tuple[int, int], positions: int) -> bool:
    """Whether a convolution takes conv2d_taps: stride 1, at most FEW_CONV_OUTPUTS output
    channels, a kernel of at least TAPS_KERNEL_AREA taps (measured on 7x7 to RGB) and at most
    TAPS_MAX_POSITIONS (padded) input positions per sample."""
    return (stride == (1, 1) and out_channels <= FEW_CONV_OUTPUTS and kernel[0] * kernel[1] >= TAPS_KERNEL_AREA
            and positions <= TAPS_MAX_POSITIONS)


def gemm_transposed(*, batch: int, height: int, width: int, outputs_per_pixel: int) -> bool:
    """Whether a transposed convolution of this input size and out channels x kernel area
    takes the GEMM path: small maps, or few outputs per input pixel at any size."""
    return outputs_per_pixel <= FEW_TRANSPOSED_OUTPUTS or gemm_positions(batch=batch, height=height, width=width)
