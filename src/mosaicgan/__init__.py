"""mosaicgan: GAN image-to-image translation (pix2pix, CycleGAN) and mosaic tools on PyTorch.

Tensors that hold images are float32, NCHW, with values in [-1, 1], everywhere in the package.
"""

__version__ = "0.1.0"
