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


SEEDS = (0, 1, 2, 3, 4)


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    """The same data, five seeds (head initialisation, split, order): about 1 s each."""
    root = tmp_path_factory.mktemp("classes")
    rng = random.Random(0)
    for cls in ("disc", "square"):
        (root / "data" / cls).mkdir(parents=True)
        for i in range(10):
            scene(rng, cls).save(root / "data" / cls / f"{i:02d}.png")
    runs = []
    for seed in SEEDS:
        # Only the new head trains (all 19 feature blocks frozen): three cheap steps on CPU.
        code = main(["train", "classifier", "--data", str(root / "data"), "--out", str(root / f"run{seed}"),
                     "--epochs", "2", "--epochs-decay", "1", "--batch-size", "16", "--lr", "0.02",
                     "--load-size", str(SIZE), "--crop-size", str(SIZE), "--device", "cpu", "--quiet",
                     "--set", "nets.freeze_features=19", "--set", f"run.seed={seed}"])
        assert code == 0
        runs.append(root / f"run{seed}")
    return runs


def test_fine_tune_beats_chance_on_held_out_images(capsys, trained_runs, record_property):
    val_acc, fresh_acc = [], []
    for run in trained_runs:
        held_out = [r for r in read_log(run) if "val_acc" in r]
        assert len(held_out) == 3  # one per epoch
        val_acc.append(held_out[-1]["val_acc"])  # 4 held-out images (20% of each class)
        clf = load_classifier(run)
        assert clf.labels == ["disc", "square"] and clf.short_side == SIZE
        ckpt = load_checkpoint(run)
        assert ckpt.kind == "classifier" and ckpt.extra["labels"] == ["disc", "square"]
        assert ckpt.extra["val_acc"] == held_out[-1]["val_acc"]
        rng = random.Random(1)
        fresh = [(cls, scene(rng, cls)) for _ in range(5) for cls in ("disc", "square")]
        fresh_acc.append(float(np.mean([clf.predict(img)[0].label == cls for cls, img in fresh])))
    record_property("margins", {"val_acc": val_acc, "fresh_acc": fresh_acc})
    # Seeds 0-15 all ended at 4 of 4 held-out and 20 of 20 fresh images; chance is 0.5.
    assert np.median(val_acc) >= 0.75, val_acc
    assert np.median(fresh_acc) >= 0.9, fresh_acc


def test_class_map_concentrates_on_the_object(trained_runs, record_property):
    ratios = {}
    for run in trained_runs:
        clf = load_classifier(run)
        rng = random.Random(7)
        for cls in ("disc", "square"):
            for cx, cy in ((32, 36), (62, 58)):
                heat = clf.class_map(scene(rng, cls, centre=(cx, cy), radius=16), cls)[0]
                inside = torch.zeros_like(heat, dtype=torch.bool)
                inside[cy - 16 : cy + 16, cx - 16 : cx + 16] = True
                ratios.setdefault((cls, cx, cy), []).append((heat[inside].mean() / heat[~inside].mean()).item())
    record_property("margins", {str(k): [round(r, 2) for r in v] for k, v in ratios.items()})
    # With two classes only the difference of the two class weights is trained, so one map
    # may instead mark what the other class lacks: the square's map lit the background for 1
    # of 16 seeds (ratio 0.0-0.03); the others gave 2.9-1000 for both classes.
    for key, values in ratios.items():
        assert np.median(values) > 1.5, (key, values)


def test_trained_classifier_drives_add_cam(capsys, trained_runs, tmp_path):
    scene(random.Random(3), "disc", centre=(40, 50), radius=18).save(tmp_path / "disc.png")
    on_disc = []
    for k, run in enumerate(trained_runs):
        code = main(["add", str(tmp_path / "disc.png"), "--out", str(tmp_path / f"out{k}"), "--cam", "disc",
                     "--classifier", str(run), "--save-mask", "--quiet"])
        assert code == 0
        mask = np.asarray(Image.open(tmp_path / f"out{k}" / "disc_mask.png")) > 0
        on_disc.append(mask[32:68, 22:58].mean())
    assert np.median(on_disc) > 0.5, on_disc


def test_refused_class_folder(capsys, tmp_path):
    for cls in ("bikini", "beach"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(tmp_path / "data" / cls / "a.png")
    code = main(["train", "classifier", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "does not target clothing" in err[0] and "'bikini'" in err[0]
    assert not (tmp_path / "run").exists()
