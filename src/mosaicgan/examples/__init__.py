"""Runnable examples of the generative-modelling basics, apart from the toolkit's core.

Each example is one module that registers its `run` (explicit imports below, no file-name
magic). They import numpy, torch and Pillow, and from the core only errors, atomic writes and
image saving; nothing in the core imports this package.
"""

from mosaicgan.examples import inverse_cdf, mle_kl  # noqa: F401  (registration)
from mosaicgan.examples.registry import ExampleEntry, get_example, list_examples, register_example

__all__ = ["ExampleEntry", "get_example", "list_examples", "register_example"]
