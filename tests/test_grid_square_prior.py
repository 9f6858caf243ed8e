"""`remove --mask` reads the grid of a region known to be a mosaic: an axis that shows too few
lines to tell its block size alone is read at the other axis's size (square blocks are the
common case), and a truly rectangular grid keeps its size."""

import numpy as np

from mosaicgan.localize.mosaics.grid import grid_from_votes
from mosaicgan.ops.grid import Grid

H, W = 120, 96


def votes(x_lines: dict[int, int], y_lines: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """x_lines: {column: rows voting for a vertical line there}; y_lines: full horizontal lines."""
    vx, vy = np.zeros((H, W), bool), np.zeros((H, W), bool)
    for col, rows in x_lines.items():
        vx[:rows, col] = True
    for row in y_lines:
        vy[row, :] = True
    return vx, vy


Y_LINES = list(range(4, H, 12))  # sure: a block 12 px tall, offset 4


def test_a_multiple_with_votes_between_its_lines_is_read_as_square():
    # Every other vertical line faint (a re-encoded, low-contrast region): alone, x reads 24.
    vx, vy = votes({10: 60, 22: 4, 34: 60, 46: 0, 58: 60, 70: 3, 82: 60}, Y_LINES)
    assert grid_from_votes(vx, vy) == Grid(12, 24, 4, 10)
    assert grid_from_votes(vx, vy, square_prior=True) == Grid(12, 12, 4, 10)


def test_a_rectangular_grid_keeps_its_size():
    vx, vy = votes({10: 60, 34: 60, 58: 60, 82: 60}, Y_LINES)  # nothing between the lines
    assert grid_from_votes(vx, vy, square_prior=True) == Grid(12, 24, 4, 10)


def test_an_axis_with_one_line_is_read_at_the_other_axis_size():
    vx, vy = votes({22: 10}, Y_LINES)  # a narrow region: one clear vertical line
    assert grid_from_votes(vx, vy) is None
    assert grid_from_votes(vx, vy, square_prior=True) == Grid(12, 12, 4, 10)


def test_a_divisor_from_noise_between_the_lines_is_read_as_square():
    # Strong lines every 12 px and a few noise steps 4 px off them: alone, x reads 4.
    lines = {c: 12 for c in range(10, W, 12)} | {c: 3 for c in range(14, W, 12)}
    vx, vy = votes(lines, Y_LINES)
    assert grid_from_votes(vx, vy).block_w == 4
    assert grid_from_votes(vx, vy, square_prior=True) == Grid(12, 12, 4, 10)


def test_the_axis_with_fewer_votes_gives_way():
    # x holds more votes than y: y (12) does not pull x's every-other-line-faint 24 down.
    vx, _ = votes({10: 120, 22: 4, 34: 120, 46: 0, 58: 120, 70: 3, 82: 120}, [])
    vy = np.zeros((H, W), bool)
    vy[4::12, :5] = True  # short horizontal lines every 12 px: 50 votes
    assert grid_from_votes(vx, vy, square_prior=True) == Grid(12, 24, 4, 10)


def test_no_grid_is_made_up():
    empty_x, vy = votes({}, Y_LINES)
    assert grid_from_votes(empty_x, vy, square_prior=True) is None  # no vertical steps at all
    vx, _ = votes({22: 10}, [])
    assert grid_from_votes(vx, np.zeros((H, W), bool), square_prior=True) is None  # neither axis sure
    texture, _ = votes({col: 3 for col in range(W)}, [])  # steps everywhere, on no grid
    assert grid_from_votes(texture, vy) is None
    assert grid_from_votes(texture, vy, square_prior=True) is None
