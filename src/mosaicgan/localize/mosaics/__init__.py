"""Finding mosaics already in a picture: the block-grid reader (`grid`), the classical finder
(`finder`: block grids at any offset and size), and the mosaic detector network with each
region's grid read from its pixels (`detector`)."""
