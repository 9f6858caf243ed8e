"""`mosaicgan train classifier`: a short fine-tune separates two classes, its checkpoint works
with load_classifier / --classifier, and CAM lands on the class's object."""

import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.cli import main
from mosaicgan.localize import load_classifier
from mosaicgan.train.logging import read_log

SIZE = 96


def scene(rng: random.Random, cls: str, *, centre=None, radius=None) -> Image.Image:
    """A red disc or a blue square on a random plain background."""
    img = Image.new("RGB", (SIZE, SIZE), tuple(rng.randint(120, 255) for _ in range(3)))
    r = radius or rng.randint(12, 20)
    cx, cy = centre or (rng.randint(r, SIZE - r), rng.randint(r, SIZE - r))
    draw = ImageDraw.Draw(img)
    if cls == "disc":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(220, 30, 30))
    else:
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=(30, 30, 220))
    return img


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("classes")
    rng = random.Random(0)
    for cls in ("disc", "square"):
        (root / "data" / cls).mkdir(parents=True)
        for i in range(10):
            scene(rng, cls).save(root / "data" / cls / f"{i:02d}.png")
    # Only the new head trains (all 19 feature blocks frozen): three cheap steps on CPU.
    code = main(["train", "classifier", "--data", str(root / "data"), "--out", str(root / "run"), "--epochs", "2",
                 "--epochs-decay", "1", "--batch-size", "16", "--lr", "0.02", "--load-size", str(SIZE),
                 "--crop-size", str(SIZE), "--device", "cpu", "--quiet", "--set", "nets.freeze_features=19"])
    assert code == 0
    return root / "run"


def test_fine_tune_beats_chance_on_held_out_images(capsys, trained):
    held_out = [r for r in read_log(trained) if "val_acc" in r]
    assert len(held_out) == 3  # one per epoch
    assert held_out[-1]["val_acc"] >= 0.75  # 4 held-out images (20% of each class); chance is 0.5
    clf = load_classifier(trained)
    assert clf.labels == ["disc", "square"] and clf.short_side == SIZE
    ckpt = load_checkpoint(trained)
    assert ckpt.kind == "classifier" and ckpt.extra["labels"] == ["disc", "square"]
    assert ckpt.extra["val_acc"] == held_out[-1]["val_acc"]
    rng = random.Random(1)
    for cls in ("disc", "square"):
        assert clf.predict(scene(rng, cls))[0].label == cls


def test_class_map_concentrates_on_the_object(trained):
    clf = load_classifier(trained)
    rng = random.Random(7)
    for cls in ("disc", "square"):
        for cx, cy in ((32, 36), (62, 58)):
            heat = clf.class_map(scene(rng, cls, centre=(cx, cy), radius=16), cls)[0]
            inside = torch.zeros_like(heat, dtype=torch.bool)
            inside[cy - 16 : cy + 16, cx - 16 : cx + 16] = True
            assert heat[inside].mean() > 1.5 * heat[~inside].mean(), (cls, cx, cy)


def test_trained_classifier_drives_add_cam(capsys, trained, tmp_path):
    scene(random.Random(3), "disc", centre=(40, 50), radius=18).save(tmp_path / "disc.png")
    code = main(["add", str(tmp_path / "disc.png"), "--out", str(tmp_path / "out"), "--cam", "disc",
                 "--classifier", str(trained), "--save-mask", "--quiet"])
    assert code == 0
    mask = np.asarray(Image.open(tmp_path / "out" / "disc_mask.png")) > 0
    assert mask[32:68, 22:58].mean() > 0.5


def test_refused_class_folder(capsys, tmp_path):
    for cls in ("bikini", "beach"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(tmp_path / "data" / cls / "a.png")
    code = main(["train", "classifier", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "does not target clothing" in err[0] and "'bikini'" in err[0]
    assert not (tmp_path / "run").exists()
