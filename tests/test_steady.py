"""Steadier: tracks follow motion without lag, jitter is smoothed, short misses are bridged,
long absences are not, two faces stay two tracks."""

import numpy as np

from mosaicgan.infer.video.steady import BlockHold, Steadier
from mosaicgan.ops.masks import Box


def run(steadier, seq):
    out = []
    for t, boxes in enumerate(seq):
        out += steadier.push(t, boxes)
    out += steadier.flush()
    assert [t for t, _ in out] == list(range(len(seq)))
    return [boxes for _, boxes in out]


def test_linear_motion_is_followed_without_lag():
    seq = [[Box(10 + 3 * t, 20, 40 + 3 * t, 50)] for t in range(30)]
    out = run(Steadier(window=4, bridge=2, size=(200, 100)), seq)
    for t, boxes in enumerate(out):
        assert len(boxes) == 1
        b = boxes[0]
        assert abs(b.x0 - (10 + 3 * t)) <= 1 and abs(b.x1 - (40 + 3 * t)) <= 1, (t, b)


def test_jitter_is_smoothed_and_covers_the_detections_size():
    rng = np.random.default_rng(0)
    seq = []
    for _ in range(60):
        d = rng.integers(-3, 4, 4)
        seq.append([Box(50 + d[0], 40 + d[1], 90 + d[2], 80 + d[3])])
    out = run(Steadier(window=5, bridge=2, size=(200, 200)), seq)
    raw_moves = np.abs(np.diff([[*b[0]] for b in seq], axis=0)).mean()
    steady_moves = np.abs(np.diff([[*b[0]] for b in out], axis=0)).mean()
    assert steady_moves < 0.35 * raw_moves, (steady_moves, raw_moves)
    widths = [b[0].x1 - b[0].x0 for b in out]
    assert min(widths) >= 40 - 6


def test_short_misses_are_bridged_long_absences_are_not():
    seq = [[Box(10, 10, 30, 30)] if (t < 10 or 14 <= t < 20 or t >= 40) else [] for t in range(50)]
    out = run(Steadier(window=3, bridge=2, size=(100, 100)), seq)
    covered = [bool(b) for b in out]
    assert all(covered[:20])  # a gap of 4 frames (10..13) <= 2 x bridge is bridged
    assert covered[20] and covered[21] and not any(covered[23:38])  # kept 2 frames, then gone
    assert covered[38] and covered[39] and all(covered[40:])  # covered 2 frames before it is found


def test_unsearched_frames_are_filled_between_searches():
    seq = [[Box(2 * t, 0, 2 * t + 10, 10)] if t % 3 == 0 else None for t in range(30)]
    out = run(Steadier(window=3, bridge=2, size=(100, 100)), seq)
    for t, boxes in enumerate(out):
        assert len(boxes) == 1 and abs(boxes[0].x0 - 2 * t) <= 1, (t, boxes)


def test_two_faces_stay_two_tracks():
    seq = [[Box(10 + t, 10, 30 + t, 30), Box(70 - t, 10, 90 - t, 30)] for t in range(20)]
    out = run(Steadier(window=3, bridge=2, size=(100, 100)), seq)
    assert all(len(b) == 2 for b in out)


def test_block_hold_ignores_small_changes_only():
    hold = BlockHold()
    assert [hold(b) for b in (10, 11, 9, 10, 13, 13, 12)] == [10, 10, 10, 10, 13, 13, 13]


def test_a_cut_ends_every_track_both_ways_and_tracks_have_ids():
    """A face of shot 1 is not carried into shot 2 and one of shot 2 is not covered back in
    shot 1, however long the bridge; each track keeps one id, new tracks get new ones."""
    steadier = Steadier(window=2, bridge=6, size=(200, 100))
    seq = [[Box(10, 10, 40, 40)]] * 10 + [[Box(120, 50, 150, 80)]] * 10
    out = []
    for t, boxes in enumerate(seq):
        out += steadier.push_tracks(t, boxes, cut=t == 10)
    out += steadier.flush_tracks()
    assert [t for t, _ in out] == list(range(20))
    for t, found in out:
        assert len(found) == 1, (t, found)
        assert abs(found[0].box.x0 - (10 if t < 10 else 120)) <= 1
        assert found[0].track == (1 if t < 10 else 2) and found[0].seen
    # Without the cut, the bridge carries each across (the reason for cutting).
    plain = run(Steadier(window=2, bridge=6, size=(200, 100)), seq)
    assert len(plain[9]) == 2 and len(plain[10]) == 2


def test_bridged_frames_say_their_track_was_not_seen():
    steadier = Steadier(window=2, bridge=3, size=(100, 100))
    seq = [[Box(10, 10, 30, 30)], None, None, [Box(12, 10, 32, 30)]]
    out = [x for t, b in enumerate(seq) for x in steadier.push_tracks(t, b)] + steadier.flush_tracks()
    assert [[tb.seen for tb in found] for _, found in out] == [[True], [False], [False], [True]]
    assert {tb.track for _, found in out for tb in found} == {1}
