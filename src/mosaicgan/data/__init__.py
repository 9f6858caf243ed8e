"""Data sets and image I/O. Classes here sample random parameters and call `mosaicgan.ops`."""
