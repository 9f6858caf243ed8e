"""Convolution layers that switch to one matrix product over small feature maps on the CPU
(ops/conv_gemm.py says why), and the function that turns a network's layers into them.

The layers keep their parameters, names and state-dict keys: a network can be switched after it
was built, loaded or handed to an optimizer, and its checkpoints are those of the plain network.
"""

from __future__ import annotations

import torch
from torch import nn

from mosaicgan.ops.conv_gemm import (
    conv2d_gemm,
    conv2d_taps,
    conv_transpose2d_gemm,
    gemm_positions,
    gemm_taps,
    gemm_transposed,
)

# torch.compiler.is_exporting came with torch 2.7 (2.6 has none); before it, dynamo's is_compiling
# stands in (also true under torch.compile, where the plain convolution is what the compiler knows
# anyway). And a strict (dynamo) export runs each torch.nn layer's forward on fake tensors outside
# that flag (seen on 2.7.1), which aot_export before 2.7 traces again on functional tensors: eager
# inputs are plain tensors, so a tensor subclass as input means tracing too.
_exporting_flag = getattr(torch.compiler, "is_exporting", None) or torch._dynamo.is_compiling


def _is_exporting(x: torch.Tensor) -> bool:
    return type(x) is not torch.Tensor or _exporting_flag()


def _gemm_applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    # CPU only (cuDNN has no such weakness); NCHW networks only: in a channels_last network the
    # products' NCHW outputs turned the rest of it NCHW, and the layout changes cost more than
    # the products saved (unet_256 inference at 256x256: 0.245 -> 0.264 s in fp32, 0.169 ->
    # 0.214 s in bf16); never while exporting or tracing: the graph should hold a convolution.
    return (x.device.type == "cpu" and x.dim() == 4 and x.is_contiguous() and weight.is_contiguous()
            and not _is_exporting(x)
            and not torch.jit.is_tracing() and not torch.jit.is_scripting() and not torch.onnx.is_in_onnx_export())


class GemmConv2d(nn.Conv2d):
    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if _gemm_applies(x, weight):
            (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
            oh, ow = (x.shape[2] + 2 * ph - kh) // sh + 1, (x.shape[3] + 2 * pw - kw) // sw + 1
            if gemm_positions(batch=x.shape[0], height=oh, width=ow):
                return conv2d_gemm(x, weight, bias, stride=self.stride, padding=self.padding)
            if gemm_taps(out_channels=self.out_channels, kernel=self.kernel_size, stride=self.stride,
                         positions=(x.shape[2] + 2 * ph) * (x.shape[3] + 2 * pw)):
                return conv2d_taps(x, weight, bias, padding=self.padding)
        return super()._conv_forward(x, weight, bias)


class GemmConvTranspose2d(nn.ConvTranspose2d):
    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        kh, kw = self.kernel_size
        if output_size is None and _gemm_applies(x, self.weight) and gemm_transposed(
                batch=x.shape[0], height=x.shape[2], width=x.shape[3], outputs_per_pixel=self.out_channels * kh * kw):
            return conv_transpose2d_gemm(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                                         output_padding=self.output_padding)
        return super().forward(x, output_size)


def _eligible(m: nn.Module) -> bool:
    # Exact types only: a subclass may already compute something else in its forward.
    return (type(m) in (nn.Conv2d, nn.ConvTranspose2d) and m.groups == 1 and m.dilation == (1, 1)
            and m.padding_mode == "zeros" and not isinstance(m.padding, str))


def use_gemm_for_small_maps(net: nn.Module) -> int:
    """Switch the network's plain convolutions (zero padding, no dilation or groups) to the
    layers above, in place; returns how many were switched. Parameters are untouched, so an
    optimizer built before keeps working."""
    count = 0
    for m in net.modules():
        if _eligible(m):
            # The same object with a subclass that adds no state (as torch's own parametrize does).
            m.__class__ = GemmConv2d if type(m) is nn.Conv2d else GemmConvTranspose2d
            count += 1
    return count
