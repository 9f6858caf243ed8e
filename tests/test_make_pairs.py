"""`mosaicgan make-pairs`: reproducible, split by source photo, recorded, and trainable by pix2pix."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import FIXTURES
from mosaicgan.cli import main
from mosaicgan.data.images import pil_to_tensor, tensor_to_pil
from mosaicgan.data.paired import PairedDataset
from mosaicgan.data.transforms import MosaicParams, apply_mosaic


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Five small photos of different sizes, cut from the fixtures."""
    folder = tmp_path_factory.mktemp("photos")
    cat, bird = Image.open(FIXTURES / "cat.jpg").convert("RGB"), Image.open(FIXTURES / "bird.jpg").convert("RGB")
    cat.resize((96, 64)).save(folder / "cat.png")
    cat.crop((100, 0, 300, 200)).resize((70, 70)).save(folder / "cat_head.jpg", quality=95)
    bird.resize((80, 100)).save(folder / "bird.png")
    bird.crop((0, 0, 120, 90)).save(folder / "bird_corner.png")
    Image.open(FIXTURES / "grace_hopper.jpg").resize((64, 75)).save(folder / "hopper.png")
    return folder


def make(photos, out, *extra):
    argv = ["make-pairs", "--images", photos, "--out", out, "--size", "32", "--pairs-per-image", "2",
            "--test-fraction", "0.3", "--seed", "7", "--quiet", *extra]
    return main([str(a) for a in argv])


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_reproducible_split_by_source_and_recorded(capsys, photos, tmp_path):
    assert make(photos, tmp_path / "one", "--feather-max", "2", "--grow-max", "1") == 0
    assert make(photos, tmp_path / "two", "--feather-max", "2", "--grow-max", "1") == 0
    one = files(tmp_path / "one")
    assert one == files(tmp_path / "two")  # byte for byte
    assert make(photos, tmp_path / "other", "--feather-max", "2", "--grow-max", "1", "--seed", "8") == 0
    assert files(tmp_path / "other") != one
    assert "synthesizes" in capsys.readouterr().out

    records = [json.loads(line) for line in (tmp_path / "one" / "pairs.jsonl").read_text().splitlines()]
    assert len(records) == 10 and sum(r["split"] == "test" for r in records) == 4  # 2 of 5 photos held out
    splits = {}
    for r in records:
        splits.setdefault(r["source"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits.values())  # all pairs of a photo in one split
    meta = json.loads((tmp_path / "one" / "dataset.json").read_text())
    assert "synthesizes" in meta["note"] and meta["counts"]["train_pairs"] == 6

    for r in records:  # the record redoes the input exactly, and the region is all that differs
        pair = Image.open(tmp_path / "one" / r["pair"])
        assert pair.size == (64, 32)
        a, b = pil_to_tensor(pair.crop((0, 0, 32, 32))), pil_to_tensor(pair.crop((32, 0, 64, 32)))
        mask = pil_to_tensor(Image.open(tmp_path / "one" / r["mask"]))[0].add(1).div(2)
        params = MosaicParams.from_dict(r["mosaic"])
        redone = tensor_to_pil(apply_mosaic(b, mask, params))
        assert np.array_equal(np.asarray(redone), np.asarray(pair.crop((0, 0, 32, 32))))
        assert mask.sum() > 0 and r["region"]["kind"] == "random"
        reach = torch.nn.functional.max_pool2d(mask[None, None], 2 * (params.grow + params.feather) + 1,
                                               stride=1, padding=params.grow + params.feather)[0, 0]
        assert torch.equal(a[:, reach == 0], b[:, reach == 0])

    data = PairedDataset(root=tmp_path / "one", split="test", preprocess="none", flip=False)
    assert len(data) == 4 and data[0]["a"].shape == (3, 32, 32)


def test_output_trains_with_pix2pix(capsys, photos, tmp_path):
    assert make(photos, tmp_path / "pairs") == 0
    code = main(["train", "pix2pix", "--data", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"),
                 "--preprocess", "none", "--batch-size", "2", "--workers", "0", "--epochs", "1", "--epochs-decay", "0",
                 "--stop-after", "2", "--quiet", "--device", "cpu", "--set", "nets.net_g=unet",
                 "--set", "nets.num_downs=5", "--set", "nets.ngf=8", "--set", "nets.ndf=8"])
    assert code == 0
    assert (tmp_path / "run" / "checkpoints" / "latest.safetensors").is_file()
    # eval --masks adds the score of the output blended into the input through each pair's mask.
    code = main(["eval", "--checkpoint", str(tmp_path / "run"), "--data", str(tmp_path / "pairs"),
                 "--masks", str(tmp_path / "pairs" / "masks"), "--json", str(tmp_path / "eval.json")])
    assert code == 0 and "blended in mask" in capsys.readouterr().out
    result = json.loads((tmp_path / "eval.json").read_text())
    assert set(result) >= {"model", "model_in_mask", "identity"}
    # Blending keeps every pixel outside the region, so it lands nearer the input than the raw output.
    assert result["model_in_mask"]["psnr"] > result["model"]["psnr"]


def test_faces_skips_photos_without_a_face(capsys, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(FIXTURES / "grace_hopper.jpg", folder)
    shutil.copy(FIXTURES / "cat.jpg", folder)
    assert make(folder, tmp_path / "out", "--regions", "faces", "--test-fraction", "0") == 0
    assert "skipped 1 photos where faces found no region" in capsys.readouterr().out
    records = [json.loads(line) for line in (tmp_path / "out" / "pairs.jsonl").read_text().splitlines()]
    assert {r["source"] for r in records} == {"grace_hopper.jpg"} and records[0]["region"]["kind"] == "faces"


def test_bad_input_writes_nothing(capsys, photos, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(photos, broken)
    data = (broken / "cat.png").read_bytes()
    (broken / "cat.png").write_bytes(data[: len(data) // 3])
    for folder, extra, fragment in ((broken, [], "cat.png"),
                                    (photos, ["--regions", "cam", "--cam", "brassiere"], "does not target clothing"),
                                    (photos, ["--regions", "cam", "--cam", "tabby kat"], "'tabby cat' (282)")):
        assert make(folder, tmp_path / "out", *extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], err
        assert not (tmp_path / "out").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    assert make(photos, tmp_path / "full") == 2
    assert "not empty" in capsys.readouterr().err
