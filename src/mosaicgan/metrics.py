"""Image quality metrics on tensors in [-1, 1] (converted to [0, 1] inside): PSNR, SSIM, and the
periodic energy that measures an upscaler's grid."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_unit(x: torch.Tensor, *, quantize: bool = True) -> torch.Tensor:
    """[-1, 1] -> [0, 1]; `quantize` rounds to 8 bits, i.e. scores what a saved PNG holds."""
    x = x.float().clamp(-1, 1).add(1).div(2)
    return x.mul(255).round().div(255) if quantize else x


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image of a batch (N, C, H, W) in [-1, 1]."""
    mse = (to_unit(prediction) - to_unit(target)).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


def _gaussian_window(size: int, sigma: float, channels: int, device: torch.device) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(prediction: torch.Tensor, target: torch.Tensor, *, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03)
    per image of a batch, averaged over channels and valid window positions."""
    return _ssim_unit(to_unit(prediction), to_unit(target), window=window, sigma=sigma)


def _ssim_unit(x: torch.Tensor, y: torch.Tensor, *, window: int, sigma: float) -> torch.Tensor:
    c = x.shape[1]
    size = min(window, x.shape[-1], x.shape[-2])  # tiny images get a smaller window
    w = _gaussian_window(size, sigma, c, x.device)
    mu_x, mu_y = F.conv2d(x, w, groups=c), F.conv2d(y, w, groups=c)
    var_x = F.conv2d(x * x, w, groups=c) - mu_x**2
    var_y = F.conv2d(y * y, w, groups=c) - mu_y**2
    cov = F.conv2d(x * y, w, groups=c) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1)


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """Luma of RGB images (N, 3, H, W) in [-1, 1] read as 8-bit values, as the SR literature
    scores them (MATLAB's rgb2ycbcr, BT.601: Y in [16, 235]), returned in [0, 1] (Y / 255)."""
    r, g, b = to_unit(x).unbind(1)
    return ((16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255).unsqueeze(1)


def _shave(x: torch.Tensor, border: int) -> torch.Tensor:
    return x[..., border : x.shape[-2] - border, border : x.shape[-1] - border] if border else x


def psnr_y(prediction: torch.Tensor, target: torch.Tensor, *, border: int) -> torch.Tensor:
    """PSNR in dB per image on the Y channel with `border` pixels cropped on each side (the
    literature crops the scale factor), images (N, 3, H, W) in [-1, 1] quantized to 8 bits."""
    mse = (_shave(rgb_to_y(prediction), border) - _shave(rgb_to_y(target), border)).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


def ssim_y(prediction: torch.Tensor, target: torch.Tensor, *, border: int) -> torch.Tensor:
    """SSIM per image on the Y channel with `border` pixels cropped (see psnr_y)."""
    return _ssim_unit(_shave(rgb_to_y(prediction), border), _shave(rgb_to_y(target), border), window=11, sigma=1.5)


def masked_psnr(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR in dB over the pixels where mask > 0.5 (images (C, H, W) in [-1, 1], mask (H, W) or
    (1, H, W)), all channels together, on 8-bit values as saved files hold them."""
    inside = (mask.reshape(prediction.shape[-2:]) > 0.5).expand_as(prediction)
    mse = (to_unit(prediction) - to_unit(target)).pow(2)[inside].mean()
    return float(10 * torch.log10(1.0 / mse.clamp_min(1e-10)))


def periodic_energy_db(x: torch.Tensor, *, period: int, border: int = 0) -> torch.Tensor:
    """How strongly each image (N, 3, H, W) in [-1, 1] repeats every `period` pixels in both
    directions: the grid an upscaler's pixel shuffle or transposed convolution can print, at its
    factor. On the Y channel (as psnr_y, `border` pixels cropped), cut into period x period cells
    from the top-left corner (the low-resolution pixels' grid): the mean cell, less its own mean,
    is the image's periodic part (exactly its Fourier components at multiples of 1/period cycles
    per pixel). Returns 10 log10 of that part's energy over the image's (less its mean), times the
    number of cells: about 0 dB for white noise (the mean of n unrelated cells keeps 1/n of their
    energy), less for smooth content (its neighbouring pixels agree, so the cell varies less), more
    where a grid shows. Compare methods on the same images, and with the original's value."""
    y = _shave(rgb_to_y(x), border).float()
    h, w = (y.shape[-2] // period) * period, (y.shape[-1] // period) * period
    if h == 0 or w == 0:
        raise ValueError(f"images of {tuple(y.shape[-2:])} pixels hold no {period}x{period} cell")
    y = y[..., :h, :w]
    y = y - y.mean(dim=(2, 3), keepdim=True)
    cell = y.reshape(y.shape[0], 1, h // period, period, w // period, period).mean(dim=(2, 4))
    cell = cell - cell.mean(dim=(2, 3), keepdim=True)
    cells = (h // period) * (w // period)
    ratio = cell.pow(2).flatten(1).mean(1) / y.pow(2).flatten(1).mean(1).clamp_min(1e-12)
    return 10 * torch.log10((ratio * cells).clamp_min(1e-12))
