"""Runnable examples of the generative-modelling basics, apart from the toolkit's core.

Each example is one module that registers its `run` (explicit imports below, no file-name
magic). They import numpy, torch and Pillow, and from the core only errors, atomic writes and
image saving; nothing in the core imports this package.
"""

# Registration order is listing order: the order of the basics, simplest first (so the
# import sorter must leave these lines alone).
# isort: off
from mosaicgan.examples import inverse_cdf  # noqa: F401  (registration)
from mosaicgan.examples import mle_kl  # noqa: F401
from mosaicgan.examples import toy_gan_2d  # noqa: F401
from mosaicgan.examples import l2_blur  # noqa: F401
# isort: on
from mosaicgan.examples.registry import ExampleEntry, get_example, list_examples, register_example

__all__ = ["ExampleEntry", "get_example", "list_examples", "register_example"]
