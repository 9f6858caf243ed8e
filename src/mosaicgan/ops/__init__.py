"""Pure tensor functions on images and masks: no I/O, no hidden randomness.

- `mosaic`: pixelate a masked region (block average, median, random pixel, blur).
- `masks`: mask shapes and checks, grow/shrink, feather, mask <-> boxes.
- `shapes`: rectangles, ellipses and polygons drawn from explicit parameters, and a sampler
  that takes an explicit `torch.Generator`.
- `blend`: composite a region back with a soft mask; crop around a region and paste back.
- `tiles`: run an image function tile by tile with blended overlaps (bounded memory).
- `conv_gemm`: convolutions over small feature maps as one matrix product (CPU speed).
- `reflect_pad`: reflection padding in the input's dtype, with a fast backward.

Images are float tensors (N, C, H, W) or (C, H, W) in [-1, 1]. Masks are float tensors in
[0, 1], 1 inside the region; see `masks.as_mask` for the shapes accepted.
Import from the modules (`from mosaicgan.ops.mosaic import pixelate`); nothing is re-exported
here, so importing one op does not import the others.
"""
