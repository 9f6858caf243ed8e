"""The file commands under torchrun: each process (RANK of WORLD_SIZE in its environment) takes
its share of the inputs, and together they write what one process writes. The processes need
no process group, so the ranks run here one after the other, each with its own environment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import FIXTURES
from mosaicgan.cli import main
from mosaicgan.ranks import Ranks, share


def test_shares_cover_each_input_once():
    items = list(range(7))
    for world in (1, 2, 3, 8):
        shares = [share(items, Ranks(rank=r, world=world)) for r in range(world)]
        assert sorted(i for s in shares for i in s) == items


def photos(folder: Path, count: int = 5) -> Path:
    folder.mkdir()
    base = Image.open(FIXTURES / "grace_hopper.jpg").convert("RGB").resize((96, 64))
    for i in range(count):
        base.rotate(7 * i).save(folder / f"p{i}.png")
    return folder


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def run_as_ranks(monkeypatch, argv: list[str], out: Path, *, world: int) -> None:
    for rank in range(world):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", str(world))
        monkeypatch.setenv("LOCAL_RANK", str(rank))
        assert main([*argv, "--out", str(out), "--quiet"]) == 0
        # Each rank wrote its share and nothing more (5 inputs).
        assert len(list(out.iterdir())) == sum(len(share(list(range(5)), Ranks(rank=k, world=world)))
                                               for k in range(rank + 1))
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("LOCAL_RANK")


@pytest.mark.parametrize("command", ["translate", "add", "remove"])
def test_ranks_together_write_what_one_process_writes(command, monkeypatch, tmp_path, tiny_run):
    src = photos(tmp_path / "in")
    if command == "translate":
        argv = ["translate", str(src), "--checkpoint", str(tiny_run), "--batch-size", "2"]
    elif command == "add":
        argv = ["add", str(src), "--box", "20,10,70,50", "--block", "8", "--style", "random"]
    else:
        mosaics = tmp_path / "mosaics"
        assert main(["add", str(src), "--box", "20,10,70,50", "--block", "8", "--out", str(mosaics), "--quiet"]) == 0
        argv = ["remove", str(mosaics), "--grid", "8,8,10,20", "--detector", "grid"]
    main([*argv, "--out", str(tmp_path / "one"), "--quiet"])
    run_as_ranks(monkeypatch, argv, tmp_path / "two", world=2)
    run_as_ranks(monkeypatch, argv, tmp_path / "three", world=3)
    one = files(tmp_path / "one")
    assert len(one) == 5
    for many in ("two", "three"):
        got = files(tmp_path / many)
        assert got.keys() == one.keys()
        for name in one:
            a = np.asarray(Image.open(tmp_path / "one" / name))
            b = np.asarray(Image.open(tmp_path / many / name))
            assert np.array_equal(a, b), f"{many}/{name}"
