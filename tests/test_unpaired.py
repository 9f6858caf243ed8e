from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from mosaicgan.config import default_config, with_values
from mosaicgan.data.unpaired import UnpairedDataset
from mosaicgan.errors import UserError
from mosaicgan.train.cyclegan import cyclegan_dataset


def write_domain(folder, count, *, size=(24, 16), base=0):
    """Images whose top-left pixel encodes their number (red = base + i), the rest random."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(base)
    for i in range(count):
        arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        arr[0, 0] = (base + i, 0, 0)
        Image.fromarray(arr).save(folder / f"{i:02d}.png")


@pytest.fixture
def domains(tmp_path):
    # Different counts and different image sizes per domain.
    write_domain(tmp_path / "trainA", 5, size=(24, 16), base=0)
    write_domain(tmp_path / "trainB", 3, size=(20, 28), base=100)
    return tmp_path


def number(t):
    return round((float(t[0, 0, 0]) + 1) * 127.5)


def test_length_is_the_larger_domain_and_a_cycles(domains):
    data = UnpairedDataset(root=domains, preprocess="none", flip=False)
    assert len(data) == 5
    assert [number(data[i]["a"]) for i in range(5)] == [0, 1, 2, 3, 4]
    # Plain indices are deterministic: B in order, wrapping around the smaller domain.
    assert [number(data[i]["b"]) for i in range(5)] == [100, 101, 102, 100, 101]
    item = data[3]
    assert item["path_a"].endswith("trainA/03.png") and item["path_b"].endswith("trainB/00.png")


def test_domains_keep_their_own_sizes_or_share_the_crop(domains):
    data = UnpairedDataset(root=domains, preprocess="none", flip=False)
    assert data[0]["a"].shape == (3, 16, 24) and data[0]["b"].shape == (3, 28, 20)
    assert data.sizes_a == [(24, 16)] * 5 and data.sizes_b == [(20, 28)] * 3
    cropped = UnpairedDataset(root=domains, preprocess="resize_and_crop", load_size=20, crop_size=12)
    item = cropped[(2, 123)]
    assert item["a"].shape == item["b"].shape == (3, 12, 12)


def test_random_pairing_follows_the_seed(domains):
    data = UnpairedDataset(root=domains, preprocess="none", flip=False)
    picks = [number(data[(0, seed)]["b"]) for seed in range(60)]
    assert set(picks) == {100, 101, 102}  # every B gets drawn ...
    assert min(Counter(picks).values()) > 8  # ... about equally often
    assert all(number(data[(0, s)]["b"]) == p for s, p in enumerate(picks[:10]))  # same seed, same B
    assert all(number(data[(i, 7)]["a"]) == i for i in range(5))  # A never depends on the seed
    serial = UnpairedDataset(root=domains, preprocess="none", flip=False, serial=True)
    assert [number(serial[(i, 1000 + i)]["b"]) for i in range(5)] == [100, 101, 102, 100, 101]


def test_a_and_b_get_independent_crops(tmp_path):
    write_domain(tmp_path / "trainA", 1, size=(32, 32))
    (tmp_path / "trainB").mkdir()
    (tmp_path / "trainB" / "same.png").write_bytes((tmp_path / "trainA" / "00.png").read_bytes())
    data = UnpairedDataset(root=tmp_path, preprocess="crop", crop_size=16, flip=True)
    differ = sum(not torch.equal(item["a"], item["b"]) for item in (data[(0, s)] for s in range(10)))
    assert differ >= 8  # the same picture, cropped and flipped on its own in each domain


def test_folders_layout_is_read_unpaired(tmp_path):
    write_domain(tmp_path / "A" / "train", 4)
    write_domain(tmp_path / "B" / "train", 2, base=50)
    data = UnpairedDataset(root=tmp_path, preprocess="none")
    assert len(data) == 4 and number(data[3]["b"]) == 51


@pytest.mark.parametrize("setup, layout, message", [
    (lambda root: write_domain(root / "trainA", 2), "auto", "trainB"),
    (lambda root: write_domain(root / "trainA", 2), "unaligned", "missing trainB"),
    (lambda root: (write_domain(root / "trainA", 2), (root / "trainB").mkdir()), "auto", "holds no images"),
    (lambda root: write_domain(root / "train", 2), "aligned", "not the aligned"),
])
def test_clear_errors(tmp_path, setup, layout, message):
    setup(tmp_path)
    with pytest.raises(UserError, match=message):
        UnpairedDataset(root=tmp_path, layout=layout)


def test_dataset_builder_checks_sizes_and_direction(domains):
    config = with_values(default_config("cyclegan"), {"data.root": str(domains), "data.preprocess": "none"})
    # 24x16 fits resnet (multiple of 4) but not a 5-level U-Net (multiple of 32).
    assert len(cyclegan_dataset(config)) == 5
    with pytest.raises(UserError, match="multiples of 32"):
        cyclegan_dataset(with_values(config, {"nets.net_g": "unet", "nets.num_downs": 5}))
    with pytest.raises(UserError, match="both directions"):
        cyclegan_dataset(with_values(config, {"data.direction": "BtoA"}))
    # Each domain shares one size within itself, so batches of 2 stack although A and B differ.
    assert len(cyclegan_dataset(with_values(config, {"optim.batch_size": 2}))) == 5
