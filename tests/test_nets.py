import pytest
import torch

from mosaicgan.checkpoint import load_checkpoint, save_checkpoint
from mosaicgan.nets import count_parameters, get_net, list_nets
from mosaicgan.nets.layers import upsample2x
from mosaicgan.nets.patchgan import receptive_field

# Narrow versions of each network keep the test fast; the layer structure is unchanged.
NARROW = {"generator": {"ngf": 8}, "discriminator": {"ndf": 8}, "classifier": {}, "detector": {},
          "restorer": {"width": 8}, "segmenter": {"width": 8}, "upscaler": {"width": 8, "blocks": 2},
          "two_way": {"ngf": 8}}
# Networks that generate at one size are built at the test's; CoGAN's inversion takes a few steps only.
SMALL = {"cogan_g": {"image_size": 32, "inversion_steps": 5}, "dong_g": {"image_size": 32}}


def small_input(net, kind):
    if kind == "restorer":  # block lattice features: means in [-1, 1], share, full flag, log2 sizes
        x = torch.rand(2, 7, 6, 5)
        x[:, :3] = x[:, :3] * 2 - 1
        x[:, 4] = (x[:, 3] > 0.5).float()
        return x
    # 128 leaves the 286x286 PatchGAN more than one pixel per channel for instance norm.
    side = max(getattr(net, "size_multiple", 1), {"generator": 32, "two_way": 32, "discriminator": 128}.get(kind, 64))
    return torch.rand(2, 3, side, side) * 2 - 1


@pytest.mark.parametrize("entry", list_nets(), ids=lambda e: e.name)
def test_shape_range_and_round_trip(entry, tmp_path):
    net = get_net(entry.name, **{**entry.defaults, **NARROW[entry.kind], **SMALL.get(entry.name, {})}).eval()
    x = small_input(net, entry.kind)
    with torch.no_grad():
        y = net(x)
    if entry.kind == "detector":  # a dict of maps at 1/4 of the input size
        assert all(m.shape[0] == 2 and m.shape[2:] == (x.shape[2] // 4, x.shape[3] // 4) for m in y.values())
        y = torch.cat([m.flatten(1) for m in y.values()], dim=1)
    assert torch.isfinite(y).all()
    if entry.kind == "restorer":
        assert y.shape == (2, 3, 6 * net.scale, 5 * net.scale)
        assert y.min() >= -1 and y.max() <= 1
    elif entry.kind == "upscaler":
        assert y.shape == (*x.shape[:2], x.shape[2] * net.scale, x.shape[3] * net.scale)
    elif entry.kind in ("generator", "two_way"):
        assert y.shape == x.shape
        assert y.min() >= -1 and y.max() <= 1
        if entry.kind == "two_way":  # the other direction too, and forward is AtoB
            with torch.no_grad():
                assert net.translate(x, direction="BtoA").shape == x.shape
                assert torch.equal(net.translate(x, direction="AtoB"), y)
    elif entry.kind == "discriminator":
        assert y.shape[:2] == (2, 1) and y.ndim == 4
    elif entry.kind == "segmenter":
        assert y.shape == (2, 1, -(-x.shape[2] // net.out_stride), -(-x.shape[3] // net.out_stride))
    else:
        assert y.ndim == 2 and y.shape[0] == 2

    path = save_checkpoint(tmp_path / "net.safetensors", kind="test", nets={"net": net}, config={"a": 1})
    loaded = load_checkpoint(path)
    assert loaded.config == {"a": 1} and loaded.kind == "test"
    with torch.no_grad():
        again = loaded.nets["net"](x)
    if entry.kind == "detector":
        again = torch.cat([m.flatten(1) for m in again.values()], dim=1)
    assert torch.equal(again, y)


@pytest.mark.parametrize(
    "name, kwargs, expected",
    [
        ("unet_256", {"norm": "batch"}, 54_413_955),
        ("resnet_9blocks", {"norm": "instance"}, 11_378_179),
        ("patchgan_70", {"in_channels": 3, "norm": "instance"}, 2_764_737),
        ("patchgan_70", {"in_channels": 6, "norm": "batch"}, 2_768_705),
    ],
)
def test_parameter_counts_match_reference(name, kwargs, expected):
    assert count_parameters(get_net(name, **kwargs)) == expected


def measured_receptive_field(n_layers: int) -> int:
    """Side of the input region that moves one central output logit (from its gradient)."""
    net = get_net("patchgan", n_layers=n_layers, ndf=4, norm="none")
    side = 320
    x = torch.randn(1, 3, side, side, requires_grad=True)
    y = net(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    touched = x.grad.abs().sum(dim=(0, 1)) > 0
    rows = touched.any(dim=1).nonzero()
    cols = touched.any(dim=0).nonzero()
    assert rows.numel() and cols.numel()
    return int(max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1))


@pytest.mark.parametrize("n_layers, expected", [(0, 1), (1, 16), (3, 70)])
def test_discriminator_receptive_field(n_layers, expected):
    assert receptive_field(n_layers) == expected
    assert measured_receptive_field(n_layers) == expected


def test_unknown_net_lists_choices():
    from mosaicgan.errors import UserError

    with pytest.raises(UserError, match="unet_256"):
        get_net("unet_999")


@pytest.mark.parametrize("name", ["unet_128", "resnet_6blocks"])
def test_resize_upsampling_generators_keep_shape_and_round_trip(name, tmp_path):
    net = get_net(name, ngf=8, upsample="resize").eval()
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in net.modules())
    path = save_checkpoint(tmp_path / "net.safetensors", kind="test", nets={"net": net}, config={})
    with torch.no_grad():
        assert torch.equal(load_checkpoint(path).nets["net"](x), y)


def test_resize_upsampling_keeps_the_resnet_parameter_count():
    # A 3x3 convolution has as many weights as the 3x3 transposed one it replaces.
    assert count_parameters(get_net("resnet_9blocks", upsample="resize")) == 11_378_179


@pytest.mark.parametrize("kernel", [3, 4])
def test_deconv_prints_a_checkerboard_and_resize_does_not(kernel):
    """A flat input through the same random kernel: each output phase of the transposed
    convolution sums another subset of the kernel (a period-2 pattern), while nearest x2 +
    conv gives every interior pixel the whole kernel. Both double the size."""
    torch.manual_seed(0)
    x = torch.ones(1, 1, 8, 8)
    weight = torch.rand(1, 1, kernel, kernel) + 0.1
    outputs = {}
    for kind in ("deconv", "resize"):
        layer = upsample2x(kind, 1, 1, kernel=kernel, bias=False)
        conv = layer if kind == "deconv" else layer[-1]
        with torch.no_grad():
            conv.weight.copy_(weight if kind == "deconv" else torch.rand(1, 1, 3, 3) + 0.1)
            y = layer(x)
        assert y.shape == (1, 1, 16, 16)
        outputs[kind] = y[0, 0, 2:-2, 2:-2]  # away from the borders
    phases = outputs["deconv"].unfold(0, 2, 2).unfold(1, 2, 2)  # (6, 6, 2, 2): one 2x2 period each
    assert torch.allclose(phases, phases[:1, :1].expand_as(phases))  # periodic ...
    assert phases[0, 0].max() > 1.05 * phases[0, 0].min()  # ... and not flat
    assert torch.allclose(outputs["resize"], outputs["resize"][0, 0].expand_as(outputs["resize"]))


def test_unknown_upsampling_is_a_clear_error():
    with pytest.raises(ValueError, match="deconv"):
        upsample2x("pixelshuffle", 4, 4, kernel=3, bias=True)


@pytest.fixture
def scratch_registry(monkeypatch):
    """Register test networks into a copy of the registry, dropped after the test."""
    from mosaicgan.nets import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    return registry


def test_wrong_arguments_are_user_errors(scratch_registry):
    from mosaicgan.errors import UserError

    with pytest.raises(UserError, match="unet.*nosuch"):
        get_net("unet", nosuch=1)
    with pytest.raises(UserError, match="n_layers"):  # the builder fixes n_layers itself
        get_net("pixelgan", n_layers=2)

    class Direct(torch.nn.Module):
        def __init__(self, *, width: int) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(width, width)

    scratch_registry.register_net("test_direct", kind="generator")(Direct)  # a class as its own builder
    with pytest.raises(UserError, match="test_direct"):
        get_net("test_direct", height=3)
    assert get_net("test_direct", width=3).lin.in_features == 3


def test_type_errors_inside_a_constructor_are_not_hidden(scratch_registry):
    from mosaicgan.errors import UserError

    class Buggy(torch.nn.Module):
        def __init__(self, *, width: int = 4) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(width, "four")  # a bug in the network, not the user's arguments

    @scratch_registry.register_net("test_buggy", kind="generator")
    def test_buggy(**kwargs):
        return Buggy(**kwargs)

    with pytest.raises(TypeError) as err:
        get_net("test_buggy", width=4)
    assert not isinstance(err.value, UserError)
    with pytest.raises(UserError):  # the same builder with a wrong keyword is still the user's error
        get_net("test_buggy", depth=4)
