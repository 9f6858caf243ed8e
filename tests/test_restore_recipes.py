"""Restoring mosaics of other recipes: the recipe mix, the recipe statistics and head, how the
restorer reads and projects block values per recipe, and what `remove` reports."""

from __future__ import annotations

import math

import pytest
import torch

from mosaicgan.data.mosaic_masks import MosaicMasks
from mosaicgan.data.mosaic_pairs import MosaicPairs, load_photos
from mosaicgan.data.recipe_mix import DEFAULT_MIX, parse_mix, pick
from mosaicgan.errors import UserError
from mosaicgan.infer.remove.core import remove_mosaics
from mosaicgan.infer.remove.restorer import Restorer
from mosaicgan.localize.mosaics.recipe import FAMILIES, FAMILY_OF, STATS, RecipeEstimate, recipe_statistics
from mosaicgan.nets import get_net
from mosaicgan.nets import restorer as restorer_net
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.recipes import mosaic_recipe
from mosaicgan.ops.unmosaic import block_means, lattice_features
from test_train_restorer import write_wavy_photos


def test_the_mix_parses_and_picks():
    assert parse_mix("default") == DEFAULT_MIX
    assert abs(sum(w for _, w in DEFAULT_MIX) - 1) < 1e-9
    assert parse_mix("mean, nearest") == (("mean", 0.5), ("nearest", 0.5))
    mix = parse_mix("mean:3,min:1,max:0")
    assert mix == (("mean", 0.75), ("min", 0.25))
    assert [pick(mix, u) for u in (0.0, 0.74, 0.76, 0.999)] == ["mean", "mean", "min", "min"]
    for bad, what in (("blur", "unknown"), ("mean:x", "number"), ("mean:-1", ">= 0"), ("", "at least one"),
                      ("mean,mean", "twice")):
        with pytest.raises(UserError, match=what):
            parse_mix(bad, flag="--recipes")


def test_the_network_and_the_statistics_agree_on_the_families():
    assert (FAMILIES[restorer_net.AVERAGE], FAMILIES[restorer_net.TOP_LEFT], FAMILIES[restorer_net.MIN],
            FAMILIES[restorer_net.MAX]) == ("average", "top-left-pixel", "min", "max")
    assert FAMILY_OF["mean"] == "average" and FAMILY_OF["nearest"] == "top-left-pixel"


def _smooth(size: int = 96, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    img = torch.zeros(3, size, size)
    for _ in range(3):
        angle, phase = (float(v) * 6.2832 for v in torch.rand(2, generator=g))
        wave = torch.sin(6.2832 / 40 * (xs * math.cos(angle) + ys * math.sin(angle)) + phase)
        img += wave * (torch.rand(3, 1, 1, generator=g) * 0.5 - 0.25)
    return img.clamp(-1, 1)


def _one_hot(name: str) -> torch.Tensor:
    p = torch.zeros(1, len(FAMILIES))
    p[0, FAMILIES.index(name)] = 1
    return p


def test_an_untrained_network_reads_values_where_the_recipe_measured_them():
    """Zero last layer: the output is the base. A top-left-pixel mosaic read as such (values
    moved to the block centres) is closer to the truth than read as block means, and a mean
    mosaic read as average is exactly what the network without a recipe head returns."""
    truth = _smooth()[None]
    grid = Grid(8, 8)
    full = torch.ones(1, 1, 96, 96)
    plain = get_net("restorer", width=8, blocks=1, scale=8)
    headed = get_net("restorer", width=8, blocks=1, scale=8, families=len(FAMILIES), stats=STATS)
    with torch.no_grad():
        mean = mosaic_recipe(truth, full, recipe="mean", grid=grid)
        features = lattice_features(mean, full, grid, scale=8)
        torch.testing.assert_close(headed(features, _one_hot("average")), plain(features))
        top_left = mosaic_recipe(truth, full, recipe="nearest", grid=grid)
        features = lattice_features(top_left, full, grid, scale=8)
        as_top_left = headed(features, _one_hot("top-left-pixel"))
        as_mean = headed(features, _one_hot("average"))
    inner = (slice(None), slice(None), slice(16, 80), slice(16, 80))
    assert (as_top_left - truth)[inner].abs().mean() < 0.6 * (as_mean - truth)[inner].abs().mean()


def test_a_min_mosaic_is_never_restored_below_its_values():
    truth = _smooth(seed=3)[None]
    grid = Grid(8, 8)
    full = torch.ones(1, 1, 96, 96)
    observed = mosaic_recipe(truth, full, recipe="min", grid=grid)
    net = get_net("restorer", width=8, blocks=1, scale=8, families=len(FAMILIES), stats=STATS)
    with torch.no_grad():
        out = net(lattice_features(observed, full, grid, scale=8), _one_hot("min"))
    values = torch.nn.functional.interpolate(block_means(observed, grid), scale_factor=8, mode="nearest")
    assert (out >= values - 1e-6).all()
    with torch.no_grad():
        unbounded = net(lattice_features(observed, full, grid, scale=8), _one_hot("centre-pixel"))
    assert (unbounded < values - 1e-3).any()  # the bound is what the clamp adds


def test_recipe_statistics_see_what_a_pixel_mosaic_shows():
    noise = torch.rand(3, 128, 128, generator=torch.Generator().manual_seed(1)) - 0.5
    photo = _smooth(size=128, seed=5) + 0.2 * noise
    photo = photo.add(1).mul(127.5).round().div(127.5).sub(1)
    region = torch.zeros(1, 128, 128)
    ys, xs = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
    region[0] = (((ys - 60) / 40) ** 2 + ((xs - 66) / 44) ** 2 <= 1).float()
    grid = Grid(8, 8, 3, 5)
    stats = {}
    for recipe in ("mean", "nearest", "nearest-centre", "min"):
        observed = mosaic_recipe(photo, region, recipe=recipe, grid=grid).add(1).mul(127.5).round().div(127.5).sub(1)
        stats[recipe] = recipe_statistics(observed, region, grid)
        assert stats[recipe].shape == (STATS,) and torch.isfinite(stats[recipe]).all()
    # Cut blocks: a top-left (centre) pixel mosaic shows that clean pixel's exact value.
    cut_tl, cut_centre = 21, 22  # after the boundary statistics
    assert stats["nearest"][cut_tl] < math.log(0.05) < stats["mean"][cut_tl]
    assert stats["nearest-centre"][cut_centre] < math.log(0.05) < stats["mean"][cut_centre]
    # A minimum sits below the clean blocks around it: the signed step against their means.
    assert stats["min"][1] < stats["mean"][1]
    no_context = recipe_statistics(observed, torch.ones(1, 128, 128), grid)
    assert torch.isfinite(no_context).all() and no_context[:21].abs().sum() == 0


def test_recipe_pairs_carry_statistics_and_family(tmp_path):
    photos, _ = load_photos([write_wavy_photos(tmp_path / "p", count=3)])
    ds = MosaicPairs(roots=[], photos=photos, length=10, lattice=8, scale=4, block_min=4, block_max=8,
                     recipes=parse_mix("nearest:1"), box_prob=1.0, full_prob=0.0)
    a, b = ds[(1, 11)], ds[(1, 11)]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["stats"].shape == (STATS,) and int(a["family"]) == FAMILIES.index("top-left-pixel")
    legacy = MosaicPairs(roots=[], photos=photos, length=10, lattice=8, scale=4, block_min=4, block_max=8)
    assert "stats" not in legacy[(1, 11)]
    masks = MosaicMasks(roots=[], photos=photos, length=10, crop=64, block_min=4, block_max=8, clean_prob=0.0,
                        full_prob=0.0, recipes=parse_mix("max:1"), box_prob=1.0, jpeg_prob=0.0)
    sample = masks[(0, 5)]
    inside = sample["mask"][0] > 0
    ys, xs = inside.nonzero(as_tuple=True)
    assert bool(inside[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].all())  # a rectangle


def test_remove_reports_the_recipe_it_read():
    net = get_net("restorer", width=8, blocks=1, scale=8, families=len(FAMILIES), stats=STATS).eval()
    restorer = Restorer(name="tiny", kind="network", net=net)
    photo = _smooth(size=128, seed=7)
    region = torch.zeros(128, 128)
    region[32:96, 40:104] = 1
    observed = mosaic_recipe(photo, region, recipe="mean", grid=Grid(8, 8))
    estimate = restorer.estimate_recipe(observed, region[None], grid=Grid(8, 8))
    assert isinstance(estimate, RecipeEstimate) and estimate.family in FAMILIES
    assert abs(sum(estimate.probabilities) - 1) < 1e-3
    done = remove_mosaics(observed, restorer=restorer, mask=region, grid=Grid(8, 8))
    record = done.regions[0].to_dict()
    assert record["recipe"] == estimate.family and 0 < record["recipe_probability"] <= 1
    assert torch.equal(done.frame[:, region == 0], observed[:, region == 0])
    plain = Restorer(name="plain", kind="network", net=get_net("restorer", width=8, blocks=1, scale=8).eval())
    assert "recipe" not in remove_mosaics(observed, restorer=plain, mask=region, grid=Grid(8, 8)).regions[0].to_dict()


def test_a_recipe_head_grows_onto_a_restorer_without_one():
    plain = get_net("restorer", width=8, blocks=1, scale=8)
    torch.nn.init.normal_(plain.tail.weight, std=0.01)  # a trained-looking network, not the zero start
    headed = get_net("restorer", width=8, blocks=1, scale=8, families=len(FAMILIES), stats=STATS)
    headed.load_state_dict(plain.state_dict())
    truth = _smooth()[None]
    full = torch.ones(1, 1, 96, 96)
    features = lattice_features(mosaic_recipe(truth, full, recipe="mean", grid=Grid(8, 8)), full, Grid(8, 8), scale=8)
    with torch.no_grad():
        torch.testing.assert_close(headed(features, _one_hot("average")), plain(features))
    with pytest.raises(RuntimeError):  # any other mismatch still fails
        get_net("restorer", width=16, blocks=1, scale=8, families=len(FAMILIES), stats=STATS).load_state_dict(
            plain.state_dict())


def test_make_pairs_draws_recipes_and_redoes_them_from_the_record(tmp_path):
    import json

    from PIL import Image

    from mosaicgan.data.images import pil_to_tensor
    from mosaicgan.data.transforms import MosaicParams, apply_mosaic
    from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
    from mosaicgan.infer.make_pairs import PairsOptions, make_pairs

    photos = write_wavy_photos(tmp_path / "photos", count=3, size=96)
    options = PairsOptions(size=64, pairs_per_image=4, seed=3, recipes=parse_mix("nearest:1,min:1"), jpeg_prob=0.5)
    make_pairs(photos, tmp_path / "out", finder=RegionFinder(RegionRequest(kind="random")), options=options)
    records = [json.loads(line) for line in (tmp_path / "out" / "pairs.jsonl").read_text().splitlines()]
    assert {r["mosaic"]["recipe"] for r in records} == {"nearest", "min"}
    assert any(r["mosaic"].get("jpeg", 0) for r in records)
    for r in records:
        pair = pil_to_tensor(Image.open(tmp_path / "out" / r["pair"]))
        mask = pil_to_tensor(Image.open(tmp_path / "out" / r["mask"]).convert("L"))[0] > 0
        a, b = pair[:, :, :64], pair[:, :, 64:]
        redone = apply_mosaic(b, mask.float(), MosaicParams.from_dict(r["mosaic"]))
        assert (redone - a).abs().max() <= 2 / 127.5 + 1e-6  # the PNG's rounding, on both sides


def test_a_video_reads_its_recipe_once():
    from mosaicgan.localize.mosaics.recipe import RecipeMemory

    memory = RecipeMemory()
    assert memory.estimate is None and memory.add(None) is None
    first = RecipeEstimate.from_probabilities(torch.tensor([0.6, 0.4, 0.0, 0.0, 0.0]))
    second = RecipeEstimate.from_probabilities(torch.tensor([0.2, 0.8, 0.0, 0.0, 0.0]))
    assert memory.add(first).family == "average"
    both = memory.add(second)
    assert both.family == "centre-pixel" and both.probabilities[:2] == pytest.approx((0.4, 0.6))
    for _ in range(RecipeMemory.SETTLE):
        memory.add(first)
    assert memory.settled


def test_min_and_max_count_only_when_the_head_is_sure():
    from mosaicgan.localize.mosaics.recipe import BOUND_TRUST

    unsure = RecipeEstimate.from_head(torch.tensor([0.3, 0.1, 0.0, 0.0, 0.6]))
    assert unsure.family == "average" and unsure.probabilities[4] == 0
    assert unsure.probabilities[:2] == pytest.approx((0.75, 0.25))
    sure = RecipeEstimate.from_head(torch.tensor([0.05, 0.05, 0.0, BOUND_TRUST + 0.1, 0.1]))
    assert sure.family == "min" and sure.probabilities[4] == 0
