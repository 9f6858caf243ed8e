"""The unpaired family beside CycleGAN: DiscoGAN, DualGAN, UNIT, CoGAN and Dong et al.

Mechanism tests (fast): shared weights are one tensor that both domains train; UNIT's KL term is
the one computed and minimised; WGAN clipping and n_critic; Dong et al.'s stages train only their
networks; CoGAN's inversion finds codes; every model trains, resumes, translates and exports
through the CLI. The learning test (slow): on a toy pair of domains with a known correspondence,
each method moves images to the other domain and keeps the correspondence, over several seeds.
"""

from __future__ import annotations

import random

import pytest
import torch
from PIL import Image, ImageDraw

from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.cli import main
from mosaicgan.config import default_config, with_values
from mosaicgan.data.images import list_images, pil_to_tensor, read_image
from mosaicgan.errors import UserError
from mosaicgan.infer.export_onnx import MIN_TORCH, torch_exports_onnx
from mosaicgan.infer.translate.translator import Translator
from mosaicgan.nets import get_net, init_weights
from mosaicgan.nets.two_way import one_way
from mosaicgan.train.logging import read_log
from mosaicgan.train.loop import train
from mosaicgan.train.tasks import TASKS
from mosaicgan.train.unit import kl_term

RED, BLUE = (210, 40, 40), (40, 40, 210)
FAMILY = ("discogan", "dualgan", "unit", "cogan", "dong")


def square_pair(rng: random.Random, *, size: int) -> tuple[Image.Image, Image.Image]:
    """A square at a random place, red on white (domain A) and blue on white (B): the place is the
    correspondence. Its law (x ~ u^2, y ~ u^0.5) is mapped to itself by no flip or transposition,
    so a method cannot meet the other domain's distribution with a mirrored map instead."""
    side = size // 4 + 1
    x, y = round((size - side) * rng.random() ** 2), round((size - side) * rng.random() ** 0.5)
    images = []
    for colour in (RED, BLUE):
        img = Image.new("RGB", (size, size), "white")
        ImageDraw.Draw(img).rectangle((x, y, x + side - 1, y + side - 1), fill=colour)
        images.append(img)
    return images[0], images[1]


def make_squares(root, *, size=32, n_a=64, n_b=64, n_test=16, seed=0):
    """trainA: red squares; trainB: blue squares of other draws (unpaired); test/A + test/B: pairs."""
    rng = random.Random(seed)
    for folder in ("trainA", "trainB", "test/A", "test/B"):
        (root / folder).mkdir(parents=True)
    for i in range(n_a):
        square_pair(rng, size=size)[0].save(root / "trainA" / f"{i:03d}.png")
    for i in range(n_b):
        square_pair(rng, size=size)[1].save(root / "trainB" / f"{i:03d}.png")
    for i in range(n_test):
        a, b = square_pair(rng, size=size)
        a.save(root / "test" / "A" / f"{i:03d}.png")
        b.save(root / "test" / "B" / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    return make_squares(tmp_path_factory.mktemp("squares"))


# Tiny networks for 32x32 squares. The small-image settings a preset cannot know: 16x16 PatchGANs
# (the 70x70 one would shrink 32 pixels to nothing), and U-Net/sizes that fit 32.
TINY = {"nets.ngf": 8, "nets.ndf": 8, "data.num_workers": 0, "run.device": "cpu", "optim.batch_size": 4,
        "optim.epochs": 100, "optim.epochs_decay": 0, "run.log_every": 10, "run.sample_every": 100_000,
        "run.save_every": 100_000,
        # fp32: the default (bf16 where the CPU has it natively) would give these tests another
        # arithmetic on each machine; the thresholds were set over seeds in fp32.
        "run.precision": "fp32"}
PER_MODEL = {
    "cyclegan": {"nets.net_g": "resnet_6blocks", "nets.net_d": "patchgan_16", "data.preprocess": "none"},
    "discogan": {"nets.net_d": "patchgan_16", "data.preprocess": "none"},
    "dualgan": {"nets.net_g": "unet", "nets.num_downs": 5, "nets.net_d": "patchgan_16", "data.preprocess": "none"},
    "unit": {"nets.blocks": 2, "nets.net_d": "patchgan_16", "data.preprocess": "none"},
    "cogan": {"data.preprocess": "crop", "data.crop_size": 32, "nets.z_dim": 16, "nets.norm": "instance"},
    "dong": {"data.preprocess": "crop", "data.crop_size": 32, "nets.z_dim": 16, "nets.norm": "instance",
             "nets.net_d": "patchgan_16"},
}


def tiny_config(model, root, **overrides):
    return with_values(default_config(model), {"data.root": str(root), **TINY, **PER_MODEL[model], **overrides})


def tiny_task(model, root, **overrides):
    config = tiny_config(model, root, **overrides)
    torch.manual_seed(0)
    task = TASKS[model][0](config)
    for net in task.nets().values():
        init_weights(net)
    return task


def load_folder(folder, n=None):
    return torch.stack([pil_to_tensor(read_image(p)) for p in list_images(folder)[:n]])


def batch_of(root, n=4):
    return {"a": load_folder(root / "trainA", n), "b": load_folder(root / "trainB", n)}


# ---------------------------------------------------------------------------------------------
# Shared weights


def test_unit_shared_layers_are_one_tensor_trained_by_both_domains():
    net = get_net("unit", kind="two_way", ngf=8, blocks=2)
    shared = dict(net.shared_enc.named_parameters())
    # Both directions reach the same Parameter objects (not copies).
    ab, ba = one_way(net, "AtoB"), one_way(net, "BtoA")
    assert ab.net.shared_enc is ba.net.shared_enc is net.shared_enc
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    grads = []
    for domain in ("a", "b"):
        net.zero_grad()
        net.encode(x, domain=domain).square().mean().backward()
        grads.append({k: p.grad.clone() for k, p in shared.items()})
        # The other domain's own encoder got nothing.
        other = net.enc_b if domain == "a" else net.enc_a
        assert all(p.grad is None or not p.grad.any() for p in other.parameters())
    # Each domain's loss moves the one shared tensor, and differently.
    for name in shared:
        assert grads[0][name].abs().sum() > 0 and grads[1][name].abs().sum() > 0
        assert not torch.equal(grads[0][name], grads[1][name])
    # Stored once: the state dict has one entry per shared tensor.
    keys = [k for k in net.state_dict() if k.startswith("shared_enc.")]
    assert len(keys) == len({k for k in keys})


def test_cogan_shared_layers_are_one_tensor_in_memory_and_on_disk(tmp_path):
    from mosaicgan.checkpoint import save_checkpoint

    gen = get_net("cogan_g", kind="two_way", ngf=8, z_dim=8, image_size=32)
    disc = get_net("cogan_d", kind="discriminator", ndf=8, image_size=32)
    z = torch.randn(3, 8)
    fake_a, fake_b = gen.pair(z)
    # One forward of the shared part feeds both images: its weights get gradient from each.
    w = gen.shared[0].linear.weight
    (ga,) = torch.autograd.grad(disc(fake_a, domain="a").mean(), [w], retain_graph=True)
    (gb,) = torch.autograd.grad(disc(fake_b, domain="b").mean(), [w])
    assert ga.abs().sum() > 0 and gb.abs().sum() > 0
    # The discriminators share their last layers: one module, judged through either domain.
    shared_d = disc.shared[-1].weight
    (da,) = torch.autograd.grad(disc(torch.rand(2, 3, 32, 32), domain="a").sum(), [shared_d])
    (db,) = torch.autograd.grad(disc(torch.rand(2, 3, 32, 32), domain="b").sum(), [shared_d])
    assert da.abs().sum() > 0 and db.abs().sum() > 0
    # Saved and loaded, the sharing survives: changing the shared weight changes both domains.
    path = save_checkpoint(tmp_path / "c.safetensors", kind="cogan", nets={"gen": gen}, config={})
    loaded = load_checkpoint(path).nets["gen"]
    with torch.no_grad():
        before = loaded.pair(z)
        loaded.shared[0].linear.weight.add_(0.5)
        after = loaded.pair(z)
    assert not torch.equal(before[0], after[0]) and not torch.equal(before[1], after[1])


# ---------------------------------------------------------------------------------------------
# UNIT's KL term


def test_kl_term_is_the_mean_squared_code():
    mu = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
    assert kl_term(mu).item() == pytest.approx((1 + 4 + 0 + 9) / 4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unit_kl_term_is_minimised(squares, seed):
    """The KL term computed in UNIT's step is the one its optimiser lowers: with a heavy weight
    on it (and nothing else changed) the code's KL falls well below its start and below the same
    run's with the weight at zero."""
    def final_kl(weight):
        task = tiny_task("unit", squares, **{"loss.lambda_kl": weight, "run.seed": seed, "optim.lr": 1e-3})
        torch.manual_seed(seed)
        batch = batch_of(squares)
        kls = [task.step(batch)["loss_kl"].item() for _ in range(12)]
        return kls[0], sum(kls[-3:]) / 3

    start, with_kl = final_kl(1.0)
    _, without = final_kl(0.0)
    # Seeds 0-2 gave about 5.1 -> 1.0 with the weight, and 7.2 without it after the same steps.
    assert with_kl < 0.5 * start, (start, with_kl)
    assert with_kl < 0.5 * without, (with_kl, without)
    assert with_kl < 0.5 * without, (with_kl, without)


# ---------------------------------------------------------------------------------------------
# DualGAN's critic, n_critic, Dong et al.'s stages, CoGAN's inversion


def test_dualgan_clips_its_critics_and_steps_g_every_second_iteration(squares):
    task = tiny_task("dualgan", squares)
    assert isinstance(task.opt_d, torch.optim.RMSprop)
    limit = task.config.loss.clip_d
    batch = batch_of(squares)
    g_before = [p.detach().clone() for p in task.gen_ab.parameters()]
    task.step(batch)  # iteration 1: G and D
    assert all(p.abs().max() <= limit for d in (task.disc_a, task.disc_b) for p in d.parameters())
    g_after_1 = [p.detach().clone() for p in task.gen_ab.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(g_before, g_after_1, strict=True))
    d_before = [p.detach().clone() for p in task.disc_a.parameters()]
    task.step(batch)  # iteration 2: the critics only
    assert all(torch.equal(a, p) for a, p in zip(g_after_1, task.gen_ab.parameters(), strict=True))
    assert any(not torch.equal(a, p) for a, p in zip(d_before, task.disc_a.parameters(), strict=True))


def test_dong_stages_train_their_own_networks(squares, tmp_path):
    first = train(tiny_config("dong", squares), run_dir=tmp_path / "gan", stop_after=2, progress=False)
    stage_one = load_checkpoint(first.run_dir).nets["gen"]
    second = train(tiny_config("dong", squares, **{"dong.stage": "encoder", "run.init_from": str(first.run_dir),
                                                   "run.log_every": 1}),
                   run_dir=tmp_path / "enc", stop_after=2, progress=False)
    stage_two = load_checkpoint(second.run_dir).nets["gen"]
    # Stage encoder: the generator (batch statistics too) is the stage-one one; the encoder moved.
    for (name, a), b in zip(stage_one.gen_body.state_dict().items(), stage_two.gen_body.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    assert any(not torch.equal(a, b) for a, b in zip(stage_one.enc_body.state_dict().values(),
                                                     stage_two.enc_body.state_dict().values(), strict=True))
    assert "loss_latent" in read_log(second.run_dir)[-1]
    with pytest.raises(UserError, match="--init-from"):
        TASKS["dong"][0](tiny_config("dong", squares, **{"dong.stage": "joint"}))


def test_cogan_inversion_finds_the_code_of_an_image():
    torch.manual_seed(0)
    gen = get_net("cogan_g", kind="two_way", ngf=8, z_dim=8, image_size=32, norm="instance").eval()
    with torch.no_grad():
        target = gen.generate(torch.randn(4, 8), domain="a")
        at_zero = (gen.generate(torch.zeros(4, 8), domain="a") - target).abs().mean()
    z = gen.invert(target, domain="a", steps=150)
    with torch.no_grad():
        found = (gen.generate(z, domain="a") - target).abs().mean()
    assert found < 0.3 * at_zero, (found, at_zero)
    assert all(p.grad is None for p in gen.parameters())  # the generator itself is untouched
    # Inside the bf16 autocast that inference opens by default, the search still runs in fp32.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z_autocast = gen.invert(target, domain="a", steps=150)
    assert torch.equal(z_autocast, z)


def test_global_skip_generator_starts_as_the_identity():
    for upsample in ("deconv", "resize"):
        net = init_weights(get_net("resnet_6blocks", ngf=8, global_skip=True, upsample=upsample))
        x = torch.rand(2, 3, 16, 16) * 2 - 1
        with torch.no_grad():
            assert torch.equal(net(x), x)


# ---------------------------------------------------------------------------------------------
# Through the CLI: train, resume, translate, export


def cli_flags(model):
    flags = []
    for key, value in {**TINY, **PER_MODEL[model]}.items():
        if key not in ("optim.epochs", "optim.epochs_decay"):
            flags += ["--set", f"{key}={value}"]
    if model == "cogan":  # each translated image is an optimisation: a few steps of it here
        flags += ["--set", "nets.inversion_steps=20"]
    return flags + ["--epochs", "1", "--epochs-decay", "0", "--quiet"]


@pytest.fixture(scope="module")
def cli_runs(squares, tmp_path_factory):
    """Each model trained 2 iterations through `mosaicgan train`, then resumed to 3."""
    runs = {}
    for model in FAMILY:
        run = tmp_path_factory.mktemp(model) / "run"
        assert main(["train", model, "--data", str(squares), "--out", str(run), "--stop-after", "2",
                     *cli_flags(model)]) == 0
        assert main(["train", model, "--resume", str(run), "--stop-after", "3"]) == 0
        runs[model] = run
    return runs


@pytest.mark.parametrize("model", FAMILY)
def test_trains_resumes_and_translates_through_the_cli(model, cli_runs, squares, tmp_path):
    run = cli_runs[model]
    ckpt = load_checkpoint(run)
    assert ckpt.kind == model and ckpt.extra["step"] == 3
    for direction in ("AtoB", "BtoA"):
        out = tmp_path / f"out_{direction}"
        assert main(["translate", str(squares / "test" / "A"), "--checkpoint", str(run), "--direction", direction,
                     "--out", str(out), "--quiet"]) == 0
        assert len(list(out.glob("*.png"))) == 16
        translator = Translator.from_checkpoint(run, direction=direction)
        y = translator(torch.rand(1, 3, 40, 36) * 2 - 1)  # any size
        assert y.shape == (1, 3, 40, 36) and y.abs().max() <= 1


@pytest.mark.slow
@pytest.mark.parametrize("model", FAMILY)
def test_exports_one_direction_to_onnx(model, cli_runs, tmp_path, capsys):
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    out = tmp_path / f"{model}.onnx"
    status = main(["export", str(cli_runs[model]), "--direction", "BtoA", "--out", str(out)])
    if model == "cogan":  # its translation is an optimisation per image: refused, nothing written
        assert status == 2 and "latent inversion" in capsys.readouterr().err
        assert not out.exists()
    elif not torch_exports_onnx():  # the floor's torch: refused in one line, nothing written
        assert status == 2 and f"needs torch >= {MIN_TORCH}" in capsys.readouterr().err
        assert not out.exists()
    else:  # the export checks onnxruntime against torch on an example before writing
        assert status == 0 and out.is_file()


# ---------------------------------------------------------------------------------------------
# Learning: a toy pair of domains whose correspondence is known


def ink_centroid(images: torch.Tensor) -> torch.Tensor:
    """(N, 2) x, y of each image's ink (how far it is from white), in pixels."""
    ink = (1 - images.add(1).div(2).mean(1)).clamp(min=0)
    ink = ink / ink.sum((1, 2), keepdim=True).clamp(min=1e-6)
    ys, xs = torch.meshgrid(torch.arange(images.shape[2]), torch.arange(images.shape[3]), indexing="ij")
    return torch.stack([(ink * xs).sum((1, 2)), (ink * ys).sum((1, 2))], dim=1)


def correspondence(outputs: torch.Tensor, truth: torch.Tensor) -> float:
    """The smaller over x and y of the correlation between where the outputs put their square and
    where the true answers have it: 1 when every square lands in its place, about 0 for outputs
    unrelated to their inputs (chance), negative for a mirrored map."""
    a, b = ink_centroid(outputs), ink_centroid(truth)
    return min(float(torch.corrcoef(torch.stack([a[:, i], b[:, i]]))[0, 1]) for i in range(2))


def blueness(x: torch.Tensor) -> float:
    return (x[:, 2] - x[:, 0]).mean().item()


# (steps, image side, settings) per model. DiscoGAN needs more than its preset here: at 32 pixels
# its four stride-2 levels leave a 2x2 bottleneck, and every seed learned a map that was
# consistent (the cycle closed) but put squares elsewhere, often mirrored; at its paper's 64
# pixels (4x4) with the reconstruction weighted 1 it forgot the square, with 10 and transposed
# convolutions one direction of two seeds of three came out mirrored; with 10 and resize
# upsampling two seeds of three keep the places (correlation 0.997 and 0.78; seed 1: -0.19).
LEARNING = {
    "discogan": (400, 64, {"loss.lambda_cycle": 10.0, "optim.lr": 1e-3, "nets.upsample": "resize"}),
    "dualgan": (300, 32, {"optim.lr": 1e-3}),
    "unit": (300, 32, {"optim.lr": 1e-3}),
    "cogan": (300, 32, {"optim.lr": 1e-3}),
    "dong": (300, 32, {"optim.lr": 1e-3}),
}


@pytest.fixture(scope="module")
def squares_64(tmp_path_factory):
    return make_squares(tmp_path_factory.mktemp("squares_64"), size=64)


@pytest.mark.slow
@pytest.mark.parametrize("model", FAMILY)
def test_recovers_a_known_correspondence_better_than_chance(model, squares, squares_64, tmp_path, record_property):
    """Red squares (A) and blue squares (B), unpaired in training; the hidden answer for a test
    square is the same square in the other colour. Each method must move held-out images to the
    other domain's colour and put their square where the answer has it, for the median of three
    seeds (one GAN trajectory at one seed proves little either way)."""
    steps, side, settings = LEARNING[model]
    root = squares if side == 32 else squares_64
    real_a, real_b = load_folder(root / "test" / "A"), load_folder(root / "test" / "B")
    gap = blueness(real_b) - blueness(real_a)
    scores = []
    for seed in (0, 1, 2):
        extra = {"data.crop_size": side} if model in ("cogan", "dong") else {}
        config = tiny_config(model, root, **{**settings, **extra, "run.seed": seed})
        if model == "dong":  # its three stages, half the steps to the GAN
            run = None
            for stage, share in (("gan", 0.5), ("encoder", 0.25), ("joint", 0.25)):
                stage_config = with_values(config, {"dong.stage": stage, "run.init_from": str(run) if run else ""})
                run = train(stage_config, run_dir=tmp_path / f"{seed}_{stage}", stop_after=int(steps * share),
                            progress=False).run_dir
        else:
            run = train(config, run_dir=tmp_path / str(seed), stop_after=steps, progress=False).run_dir
        fake_b = Translator.from_checkpoint(run, direction="AtoB")(real_a)
        fake_a = Translator.from_checkpoint(run, direction="BtoA")(real_b)
        scores.append({
            "to_other": 0.5 * ((blueness(fake_b) - blueness(real_a)) + (blueness(real_b) - blueness(fake_a))) / gap,
            "correspondence": 0.5 * (correspondence(fake_b, real_b) + correspondence(fake_a, real_a)),
        })
    median = {key: sorted(s[key] for s in scores)[1] for key in scores[0]}
    record_property("scores", scores)
    assert median["to_other"] > 0.5, scores
    assert median["correspondence"] > 0.5, scores


@pytest.mark.parametrize("model", FAMILY)
def test_presets_are_the_model_defaults(model):
    from pathlib import Path

    from mosaicgan.config import load_toml

    configs = Path(__file__).parents[1] / "configs"
    assert load_toml(configs / f"{model}.toml") == default_config(model)
