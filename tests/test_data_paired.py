import pytest
import torch
from PIL import Image

from mosaicgan.data.paired import PairedDataset, discover_pairs
from mosaicgan.data.preprocess import apply_geometry, sample_geometry
from mosaicgan.errors import UserError


def write(path, size=(40, 30), colour=(10, 200, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def test_aligned_layout_splits_halves(toy_data):
    ds = PairedDataset(root=toy_data, split="train", preprocess="none", flip=False)
    item = ds[0]
    assert item["a"].shape == item["b"].shape == (3, 32, 32)
    assert item["a"].min() >= -1 and item["b"].max() <= 1
    assert not torch.equal(item["a"], item["b"])
    swapped = PairedDataset(root=toy_data, split="train", preprocess="none", flip=False, direction="BtoA")[0]
    assert torch.equal(swapped["a"], item["b"]) and torch.equal(swapped["b"], item["a"])


@pytest.mark.parametrize("layout_dirs", [("A/train", "B/train"), ("train/A", "train/B"), ("A", "B")])
def test_folder_layouts(tmp_path, layout_dirs):
    for name in ("x.png", "y.png"):
        write(tmp_path / layout_dirs[0] / name, colour=(255, 0, 0))
        write(tmp_path / layout_dirs[1] / name, colour=(0, 0, 255))
    pairs = discover_pairs(tmp_path, split="train")
    assert [(a.name, b.name) for a, b in pairs] == [("x.png", "x.png"), ("y.png", "y.png")]
    item = PairedDataset(root=tmp_path, preprocess="none")[0]
    assert item["a"][0].mean() > 0.9 and item["b"][2].mean() > 0.9


def test_folders_without_partner_is_an_error(tmp_path):
    write(tmp_path / "A" / "x.png")
    write(tmp_path / "B" / "z.png")
    with pytest.raises(UserError, match="without a partner"):
        discover_pairs(tmp_path, split="train")


def test_same_crop_and_flip_for_a_and_b(tmp_path):
    # A and B are the same gradient image: any crop/flip applied identically keeps them equal.
    grad = Image.fromarray((torch.arange(64 * 48 * 3) % 251).reshape(48, 64, 3).byte().numpy())
    both = Image.new("RGB", (128, 48))
    both.paste(grad, (0, 0))
    both.paste(grad, (64, 0))
    both.save(tmp_path / "p.png")
    ds = PairedDataset(root=tmp_path, load_size=40, crop_size=32)
    for seed in range(6):
        item = ds[(0, seed)]
        assert item["a"].shape == (3, 32, 32)
        assert torch.equal(item["a"], item["b"])


def test_random_crop_and_flip_vary_with_seed():
    img = Image.fromarray((torch.arange(50 * 50) % 256).reshape(50, 50).byte().numpy())
    outs = {apply_geometry(img, sample_geometry(img.size, preprocess="resize_and_crop", load_size=50,
                                                crop_size=20, flip=True, generator=torch.Generator().manual_seed(s))
                           ).tobytes() for s in range(10)}
    assert len(outs) > 5


def test_scale_width_keeps_aspect():
    g = sample_geometry((200, 100), preprocess="scale_width", load_size=64, crop_size=16, flip=False, generator=None)
    assert g.resize == (64, 32) and g.crop is None


def test_bad_files_are_named(tmp_path):
    write(tmp_path / "train" / "ok.png", size=(64, 32))
    (tmp_path / "train" / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match="notes.txt: not an image file"):
        PairedDataset(root=tmp_path)
    (tmp_path / "train" / "notes.txt").unlink()
    (tmp_path / "train" / "fake.png").write_bytes(b"this is not a png")
    with pytest.raises(UserError, match="fake.png"):
        PairedDataset(root=tmp_path)


def test_empty_folder(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        PairedDataset(root=tmp_path)


def test_cyclegan_test_folders_pair_by_name(tmp_path):
    for name in ("b.png", "a.png"):
        write(tmp_path / "testA" / name)
        write(tmp_path / "testB" / name)
    write(tmp_path / "trainA" / "x.png")
    pairs = discover_pairs(tmp_path, split="test")
    assert [(a.parent.name, a.name, b.parent.name) for a, b in pairs] == [("testA", "a.png", "testB"),
                                                                         ("testA", "b.png", "testB")]
