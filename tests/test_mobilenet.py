import socket

import pytest
import torch
from PIL import Image

from helpers import FIXTURES
from mosaicgan.checkpoint import save_checkpoint
from mosaicgan.errors import UserError
from mosaicgan.localize import boxes_to_mask, heatmap_to_mask, load_classifier, mask_to_boxes, shipped_classifier_path
from mosaicgan.nets import get_net
from mosaicgan.nets.mobilenet_v2 import SamePad

# Top-1 of the shipped model on the fixtures (the TFLite original gives the same; assets/README.md).
RECORDED_TOP1 = {"cat.jpg": (286, "Egyptian cat"), "bird.jpg": (20, "chickadee")}
# The cat in cat.jpg (384x256), from the photo: head and body; and its head alone.
CAT = (40, 25, 275, 256)
CAT_HEAD = (130, 25, 130, 135)


@pytest.fixture(scope="module")
def imagenet():
    return load_classifier()


def test_shipped_weights_are_small_and_load_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("loading the shipped classifier tried to open a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    imagenet = load_classifier()
    path = shipped_classifier_path()
    assert path.is_file() and path.stat().st_size <= 10 * 2**20
    assert imagenet.num_classes == 1001 and imagenet.labels[0] == "background"
    assert imagenet.labels[282] == "tabby, tabby cat"
    assert (path.parent / "LICENSE-mobilenet_v2.txt").is_file()


@pytest.mark.parametrize("name", sorted(RECORDED_TOP1))
def test_recorded_top1(imagenet, name):
    index, label = RECORDED_TOP1[name]
    top = imagenet.predict(Image.open(FIXTURES / name), top_k=3)
    assert (top[0].index, top[0].label.split(",")[0]) == (index, label)
    assert top[0].prob > top[1].prob > top[2].prob


def test_cam_of_a_cat_class_peaks_on_the_cat(imagenet):
    image = Image.open(FIXTURES / "cat.jpg")
    heat = imagenet.class_map(image, "tabby cat")[0]
    assert heat.shape == (image.height, image.width)
    y, x = divmod(int(heat.argmax()), heat.shape[1])
    cx, cy, cw, ch = CAT_HEAD
    assert cx <= x < cx + cw and cy <= y < cy + ch
    (box, *_) = mask_to_boxes(heatmap_to_mask(heat))
    h, w = heat.shape
    inside = boxes_to_mask([box], height=h, width=w) * boxes_to_mask([CAT], height=h, width=w)
    assert inside.sum() > 0.9 * box.area  # the region found lies on the cat


def test_resolve_class_names_synonyms_and_indices(imagenet):
    assert imagenet.resolve_class("tabby") == 282
    assert imagenet.resolve_class("Tabby  Cat") == 282
    assert imagenet.resolve_class("tabby, tabby cat") == 282
    assert imagenet.resolve_class("Egyptian_cat") == 286
    assert imagenet.resolve_class(282) == imagenet.resolve_class("282") == 282


def test_unknown_class_lists_close_matches(imagenet):
    with pytest.raises(UserError, match="unknown class 'tabby kat'") as err:
        imagenet.resolve_class("tabby kat")
    message = str(err.value)
    assert "\n" not in message and "'tabby cat' (282)" in message
    with pytest.raises(UserError, match="no close match"):
        imagenet.resolve_class("qqqqqqqq")
    with pytest.raises(UserError, match="several classes") as err:
        imagenet.resolve_class("crane")  # the bird and the machine
    assert "135" in str(err.value) and "518" in str(err.value)
    with pytest.raises(UserError, match="out of range"):
        imagenet.resolve_class(1001)


def test_user_checkpoint_with_labels(tmp_path):
    net = get_net("mobilenet_v2", num_classes=2, width_mult=0.35)
    path = save_checkpoint(tmp_path / "c.safetensors", kind="classifier", nets={"classifier": net}, config={},
                           extra={"labels": ["absent", "present"]})
    clf = load_classifier(path)
    image = torch.rand(3, 70, 90) * 2 - 1
    assert [p.label for p in clf.predict(image, top_k=5)] in (["absent", "present"], ["present", "absent"])
    assert clf.resolve_class("present") == 1
    assert clf.class_map(image, "present", method="grad-cam", short_side=96).shape == (1, 70, 90)
    bare = save_checkpoint(tmp_path / "bare.safetensors", kind="classifier", nets={"classifier": net}, config={})
    with pytest.raises(UserError, match="no class labels"):
        load_classifier(bare)


def test_tf_same_padding_puts_the_extra_pixel_bottom_right():
    x = torch.ones(1, 1, 4, 4)
    padded = SamePad(kernel=3, stride=2)(x)
    assert padded.shape == (1, 1, 5, 5)
    assert padded[0, 0, -1].sum() == 0 and padded[0, 0, :, -1].sum() == 0 and padded[0, 0, 0, 0] == 1
    assert SamePad(kernel=3, stride=2)(torch.ones(1, 1, 5, 5)).shape == (1, 1, 7, 7)  # even total: both sides


def test_fully_convolutional_any_size():
    net = get_net("mobilenet_v2", width_mult=0.35, num_classes=3).eval()
    with torch.no_grad():
        assert net.forward_features(torch.zeros(1, 3, 75, 130)).shape == (1, 1280, 3, 5)
        assert net(torch.zeros(2, 3, 75, 130)).shape == (2, 3)
