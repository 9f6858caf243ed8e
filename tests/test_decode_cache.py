"""The decode cache changes where a sample's pixels come from, never what they are: a cached
data set yields the same tensors as one that decodes per sample, is made again when its
files change, and a training run with it ends with the same weights as one without. The same
for uint8 batches, which training converts to floats on the device."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from conftest import tiny_pix2pix_config
from mosaicgan.data import decode_cache
from mosaicgan.data.images import uint8_to_unit, uint8_to_unit_by_table
from mosaicgan.data.paired import PairedDataset
from mosaicgan.data.unpaired import UnpairedDataset
from mosaicgan.errors import UserError
from mosaicgan.train import loop
from mosaicgan.train.levers import to_device
from mosaicgan.train.loop import train
from mosaicgan.train.run_folder import remove_temporaries
from test_train_cyclegan import make_red_blue, tiny_cyclegan_config


def photo(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    # Smooth gradients plus noise: resizing and JPEG both have something to do.
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], axis=2)
    return Image.fromarray(np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """ROOT/aligned/train (A|B in one JPEG), ROOT/folders/{A,B}/train and ROOT/unaligned/train{A,B},
    of several sizes."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate([(40, 30), (48, 36), (52, 40), (44, 44)]):
        a, b = photo(rng, w, h), photo(rng, w, h)
        both = Image.new("RGB", (2 * w, h))
        both.paste(a, (0, 0)), both.paste(b, (w, 0))
        for path, img in ((root / "aligned" / "train" / f"{i}.jpg", both),
                          (root / "folders" / "A" / "train" / f"{i}.jpg", a),
                          (root / "folders" / "B" / "train" / f"{i}.png", b),
                          (root / "unaligned" / "trainA" / f"{i}.jpg", a)):
            path.parent.mkdir(parents=True, exist_ok=True)
            img.save(path)
        if i < 3:  # domains of different sizes
            (root / "unaligned" / "trainB").mkdir(parents=True, exist_ok=True)
            b.convert("L").save(root / "unaligned" / "trainB" / f"{i}.png")
    return root


KEYS = [(0, 11), (1, 12), (2, 13), (3, 14), (2, 99), 1]  # seeded draws, and a plain index (centre crop)
SETTINGS = [
    {"layout": "aligned"},
    {"layout": "folders", "direction": "BtoA", "in_channels": 1},
    {"layout": "aligned", "preprocess": "scale_width_and_crop", "load_size": 36, "crop_size": 24},
    {"layout": "folders", "preprocess": "none"},
    {"layout": "folders", "preprocess": "crop", "crop_size": 24},
]


def paired(photos, settings, cache_dir=None) -> PairedDataset:
    settings = {"load_size": 36, "crop_size": 32, **settings}
    data = PairedDataset(root=photos / settings["layout"], **settings)
    if cache_dir is not None:
        data.use_decode_cache(cache_dir)
    return data


@pytest.mark.parametrize("settings", SETTINGS)
def test_cached_pairs_are_the_tensors_decoded_per_sample(photos, tmp_path, settings):
    plain, cached = paired(photos, settings), paired(photos, settings, tmp_path)
    assert cached.cache is not None and plain.cache is None
    assert cached.sizes == plain.sizes
    for key in KEYS:
        a, b = plain[key], cached[key]
        assert torch.equal(a["a"], b["a"]) and torch.equal(a["b"], b["b"]) and a["path"] == b["path"], key


def test_cached_unpaired_domains_are_the_tensors_decoded_per_sample(photos, tmp_path):
    settings = {"root": photos / "unaligned", "load_size": 36, "crop_size": 32, "out_channels": 1}
    plain, cached = UnpairedDataset(**settings), UnpairedDataset(**settings)
    cached.use_decode_cache(tmp_path)
    assert cached.cache is not None and len(cached.cache) == 4 + 3
    for key in KEYS:
        a, b = plain[key], cached[key]
        assert a["path_b"] == b["path_b"]
        assert torch.equal(a["a"], b["a"]) and torch.equal(a["b"], b["b"]), key


def test_a_cache_is_reused_until_its_files_change(photos, tmp_path, monkeypatch):
    builds = []
    real = decode_cache.build_cache
    monkeypatch.setattr(decode_cache, "build_cache", lambda *a, **k: builds.append(1) or real(*a, **k))
    paired(photos, SETTINGS[0], tmp_path)
    paired(photos, SETTINGS[0], tmp_path)
    assert len(builds) == 1
    paired(photos, {**SETTINGS[0], "load_size": 40}, tmp_path)  # another recipe
    assert len(builds) == 2

    data = tmp_path / "data"
    data.mkdir()
    for p in (photos / "aligned" / "train").iterdir():
        (data / p.name).write_bytes(p.read_bytes())
    first = PairedDataset(root=data, load_size=36, crop_size=32)
    first.use_decode_cache(tmp_path / "c")
    before = first[(0, 5)]["a"]
    target = data / "0.jpg"
    photo(np.random.default_rng(7), 80, 30).save(target)  # same size, other pixels
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    again = PairedDataset(root=data, load_size=36, crop_size=32)
    assert again.use_decode_cache(tmp_path / "c", build=False) is None  # stale: not served
    again.use_decode_cache(tmp_path / "c")
    assert len(builds) == 4
    assert not torch.equal(again[(0, 5)]["a"], before)
    assert torch.equal(again[(0, 5)]["a"], PairedDataset(root=data, load_size=36, crop_size=32)[(0, 5)]["a"])


def test_a_cut_short_or_damaged_cache_is_made_again(photos, tmp_path):
    cached = paired(photos, SETTINGS[0], tmp_path)
    with open(cached.cache.path, "r+b") as f:
        f.truncate(cached.cache.nbytes - 1)
    again = paired(photos, SETTINGS[0], tmp_path)
    assert again.cache.path.stat().st_size == again.cache.nbytes
    assert torch.equal(again[(1, 3)]["b"], paired(photos, SETTINGS[0])[(1, 3)]["b"])
    (tmp_path / (cached.cache.path.name + ".json")).write_text("{not json")
    assert paired(photos, SETTINGS[0], tmp_path).cache is not None


def test_a_file_gone_bad_since_the_check_is_named_while_the_cache_is_made(photos, tmp_path):
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    good = (photos / "aligned" / "train" / "0.jpg").read_bytes()
    (data / "0.jpg").write_bytes(good), (data / "1.jpg").write_bytes(good)
    dataset = PairedDataset(root=tmp_path / "data")
    (data / "1.jpg").write_bytes(good[: len(good) // 2])  # truncated after the data set was checked
    with pytest.raises(UserError, match="1.jpg"):
        dataset.use_decode_cache(tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # neither a cache nor an index left behind
    assert dataset.cache is None


def test_no_cache_when_it_would_crowd_the_disk(photos, tmp_path, monkeypatch):
    monkeypatch.setattr(decode_cache, "MAX_SHARE_OF_FREE_DISK", 1e-15)
    plain = paired(photos, SETTINGS[0], tmp_path)
    assert plain.cache is None
    assert torch.equal(plain[(0, 1)]["a"], paired(photos, SETTINGS[0])[(0, 1)]["a"])


def test_workers_get_the_path_not_the_pixels(photos, tmp_path):
    cached = paired(photos, SETTINGS[3], tmp_path)
    cached[0]  # the map is open in this process
    copy = pickle.loads(pickle.dumps(cached))
    assert len(pickle.dumps(cached)) < cached.cache.nbytes / 10
    assert torch.equal(copy[(2, 4)]["a"], cached[(2, 4)]["a"])


@pytest.mark.parametrize("model", ["pix2pix", "cyclegan"])
def test_training_with_the_cache_ends_with_the_same_weights(toy_data, tmp_path, model):
    settings = {"data.preprocess": "resize_and_crop", "data.load_size": 36, "data.crop_size": 32}
    if model == "cyclegan":
        root = make_red_blue(tmp_path / "red_blue", n_a=8, n_b=6, n_test=1)
        settings |= {"optim.epochs_decay": 0}
    for on in (True, False):
        values = {"data.decode_cache": on, **settings}
        config = tiny_pix2pix_config(toy_data, **values) if model == "pix2pix" else tiny_cyclegan_config(root, **values)
        train(config, run_dir=tmp_path / str(on), progress=False)
        assert (tmp_path / str(on) / "cache").is_dir() == on
    a, b = (load_file(tmp_path / str(on) / "checkpoints" / "latest.safetensors") for on in (True, False))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_temporaries_of_a_killed_cache_build_are_removed(tmp_path):
    (tmp_path / "cache").mkdir()
    litter = tmp_path / "cache" / ".pairs-train.u8.abc123.tmp"
    kept = tmp_path / "cache" / "pairs-train.u8"
    litter.write_bytes(b"x"), kept.write_bytes(b"y")
    assert remove_temporaries(tmp_path) == [litter]
    assert kept.exists()


def test_a_build_cut_short_leaves_nothing_that_would_be_served(tmp_path):
    path = tmp_path / "pairs-train.u8"
    arrays = [np.full((4, 5, 3), v, np.uint8) for v in (1, 2)]
    decode_cache.build_cache(path, key="old", arrays=lambda: iter(arrays))
    assert decode_cache.open_cache(path, key="old") is not None

    def failing():
        yield arrays[0]
        raise KeyboardInterrupt  # Ctrl-C in the middle of a rebuild

    with pytest.raises(KeyboardInterrupt):
        decode_cache.build_cache(path, key="new", arrays=failing)
    assert decode_cache.open_cache(path, key="old") is None and decode_cache.open_cache(path, key="new") is None
    assert [p.name for p in tmp_path.iterdir()] == ["pairs-train.u8"]  # no temporary file left


def test_a_file_rewritten_at_the_same_size_with_its_old_time_is_not_served_stale(tmp_path):
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for name in ("0.bmp", "1.bmp"):  # a BMP's size depends on its dimensions alone
        photo(rng, 64, 32).save(data / name)
    PairedDataset(root=tmp_path / "data").use_decode_cache(tmp_path / "cache")
    target = data / "1.bmp"
    before = target.stat()
    photo(np.random.default_rng(4), 64, 32).save(target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # what a copy tool would do
    assert target.stat().st_size == before.st_size and target.stat().st_mtime_ns == before.st_mtime_ns
    assert PairedDataset(root=tmp_path / "data").use_decode_cache(tmp_path / "cache", build=False) is None


def test_training_says_what_the_cache_takes(toy_data, tmp_path, capsys):
    config = tiny_pix2pix_config(toy_data, **{"optim.epochs_decay": 0})
    train(config, run_dir=tmp_path / "run", progress=True)
    out = capsys.readouterr()  # 8 pairs: A and B are decoded apart
    assert f"decode cache: 16 images, 0 MB in {tmp_path / 'run' / 'cache' / 'pairs-train.u8'}" in out.out + out.err


@pytest.mark.parametrize("cached", [False, True])
def test_uint8_items_are_the_float_items_before_their_conversion(photos, tmp_path, cached):
    for settings in SETTINGS[:2]:
        floats, bytes_ = paired(photos, settings, tmp_path if cached else None), paired(photos, settings)
        if cached:
            bytes_.use_decode_cache(tmp_path)
        bytes_.as_uint8 = True
        for key in KEYS:
            x, y = floats[key], bytes_[key]
            assert y["a"].dtype == torch.uint8 and y["a"].shape == x["a"].shape, key
            assert torch.equal(uint8_to_unit(y["a"]), x["a"]) and torch.equal(uint8_to_unit(y["b"]), x["b"]), key
    settings = {"root": photos / "unaligned", "load_size": 36, "crop_size": 32, "out_channels": 1}
    floats, bytes_ = UnpairedDataset(**settings), UnpairedDataset(**settings)
    if cached:
        bytes_.use_decode_cache(tmp_path)
    bytes_.as_uint8 = True
    for key in KEYS:
        x, y = floats[key], bytes_[key]
        assert y["b"].dtype == torch.uint8 and y["b"].shape == x["b"].shape == (1, 32, 32)
        assert torch.equal(uint8_to_unit(y["a"]), x["a"]) and torch.equal(uint8_to_unit(y["b"]), x["b"]), key


@pytest.mark.parametrize("channels_last", [False, True])
def test_to_device_converts_only_the_named_uint8_images(photos, channels_last):
    data = paired(photos, SETTINGS[0])
    floats = torch.utils.data.default_collate([data[k] for k in KEYS[:4]])
    data.as_uint8 = True
    batch = torch.utils.data.default_collate([data[k] for k in KEYS[:4]])
    batch["mask"] = torch.ones(4, 1, 32, 32, dtype=torch.uint8)  # not an image key: left as it is
    moved = to_device(batch, torch.device("cpu"), channels_last=channels_last, uint8_keys=data.IMAGE_KEYS)
    assert moved["mask"].dtype == torch.uint8 and moved["path"] == floats["path"]
    for key in ("a", "b"):
        assert moved[key].dtype == torch.float32 and torch.equal(moved[key], floats[key])
        if channels_last:
            assert moved[key].is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("model", ["pix2pix", "cyclegan"])
def test_training_on_uint8_batches_ends_with_the_same_weights(toy_data, tmp_path, model, monkeypatch):
    settings = {"data.preprocess": "resize_and_crop", "data.load_size": 36, "data.crop_size": 32,
                "data.num_workers": 1, "optim.epochs_decay": 0}
    if model == "cyclegan":
        root = make_red_blue(tmp_path / "red_blue", n_a=8, n_b=6, n_test=1)
    config = tiny_pix2pix_config(toy_data, **settings) if model == "pix2pix" else tiny_cyclegan_config(root, **settings)
    sent = []
    real_to_device = loop.to_device

    def spy(batch, device, **kw):
        sent.append(batch["a"].dtype)
        return real_to_device(batch, device, **kw)

    monkeypatch.setattr(loop, "to_device", spy)
    train(config, run_dir=tmp_path / "uint8", progress=False)
    assert sent and set(sent) == {torch.uint8}
    # The same run with float batches, as before: the data sets name no image keys.
    data_class = PairedDataset if model == "pix2pix" else UnpairedDataset
    monkeypatch.setattr(data_class, "IMAGE_KEYS", ())
    sent.clear()
    train(config, run_dir=tmp_path / "float", progress=False)
    assert sent and set(sent) == {torch.float32}
    a, b = (load_file(tmp_path / name / "checkpoints" / "latest.safetensors") for name in ("uint8", "float"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_devices_lookup_gives_the_cpus_values_in_the_inputs_layout():
    # What non-CPU devices use instead of dividing (CUDA's division by a number is a product
    # with its reciprocal, one bit off for some values); checked here on the CPU.
    every = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(uint8_to_unit_by_table(every), every.float() / 127.5 - 1.0)
    batch = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
    looked_up = uint8_to_unit_by_table(batch)
    assert torch.equal(looked_up, uint8_to_unit(batch)) and looked_up.is_contiguous(memory_format=torch.channels_last)
