import pytest
import torch

from mosaicgan.train.image_pool import ImagePool


def tagged(start, count):
    """(count, 1, 2, 2) images whose every pixel holds its tag, so outputs can be traced."""
    return torch.arange(start, start + count, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()


def tags(images):
    return [int(t) for t in images[:, 0, 0, 0]]


def test_size_zero_passes_everything_through():
    pool = ImagePool(0)
    x = tagged(0, 4).requires_grad_(True)
    out = pool.query(x * 1)
    assert torch.equal(out, x) and not out.requires_grad and pool.state_dict()["images"] == []


def test_passes_through_until_full_then_returns_stored_ones_about_half_the_time():
    pool = ImagePool(5)
    assert tags(pool.query(tagged(0, 3))) == [0, 1, 2]
    assert tags(pool.query(tagged(3, 2))) == [3, 4]
    assert sorted(tags(torch.stack(pool.images))) == [0, 1, 2, 3, 4]
    out = []
    for start in range(5, 2005, 4):
        batch = tagged(start, 4)
        out += [(t, s) for t, s in zip(tags(pool.query(batch)), tags(batch), strict=True)]
    old = sum(t != s for t, s in out) / len(out)
    assert 0.45 < old < 0.55, old
    assert all(t < s for t, s in out if t != s)  # a swapped-in image is always an older one
    assert len(pool.images) == 5


def test_outputs_carry_no_graph():
    pool = ImagePool(2)
    x = tagged(0, 4).requires_grad_(True)
    y = x * 2
    out = pool.query(y)
    assert not out.requires_grad and all(not img.requires_grad for img in pool.images)


def test_global_seed_and_state_dict_make_it_reproducible():
    torch.manual_seed(3)
    first = ImagePool(3)
    first.query(tagged(0, 3))
    saved, rng = first.state_dict(), torch.get_rng_state()
    later = [tags(first.query(tagged(10 * i, 3))) for i in range(1, 20)]

    torch.set_rng_state(rng)
    second = ImagePool(3)
    second.load_state_dict(saved)
    assert [tags(second.query(tagged(10 * i, 3))) for i in range(1, 20)] == later
    with pytest.raises(ValueError, match="up to 3"):
        ImagePool(4).load_state_dict(saved)
