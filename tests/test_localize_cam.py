import pytest
import torch
from torch import nn

from mosaicgan.errors import UserError
from mosaicgan.localize import (
    Box,
    boxes_to_mask,
    class_activation_map,
    grad_cam,
    heatmap_to_mask,
    mask_to_boxes,
    merge_boxes,
    supports_cam,
)
from mosaicgan.localize.boxes import pad_box


class GapLinear(nn.Module):
    """features -> global mean -> linear: the head CAM is defined for."""

    def __init__(self, features: nn.Module, channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = features
        self.classifier = nn.Linear(channels, num_classes)

    def forward_features(self, x):
        return self.features(x)

    def forward(self, x):
        return self.classifier(self.forward_features(x).mean(dim=(2, 3)))

    @property
    def classifier_weight(self):
        return self.classifier.weight


def selector_net() -> GapLinear:
    """Feature map c is input channel c (pooled 4x4); class k's weight selects feature map k + 1."""
    conv = nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3)[:, :, None, None])
        conv.bias.zero_()
    net = GapLinear(nn.Sequential(conv, nn.ReLU(), nn.AvgPool2d(4)), 3, 2)
    with torch.no_grad():
        net.classifier.weight.copy_(torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
        net.classifier.bias.zero_()
    return net.eval()


def blob_image() -> torch.Tensor:
    x = torch.zeros(1, 3, 64, 96)
    x[0, 1, 8:24, 60:84] = 1.0  # fires feature map 1 (class 0)
    x[0, 2, 40:56, 8:24] = 1.0  # fires feature map 2 (class 1)
    return x


def peak(heatmap: torch.Tensor) -> tuple[int, int]:
    y, x = divmod(int(heatmap.argmax()), heatmap.shape[-1])
    return x, y


def test_cam_peaks_where_the_selected_feature_fires():
    net, x = selector_net(), blob_image()
    cams = class_activation_map(net, x.expand(2, -1, -1, -1), [0, 1])
    assert cams.shape == (2, 64, 96)
    assert cams.min() >= 0 and cams.max() == pytest.approx(1.0)
    px, py = peak(cams[0])
    assert 60 <= px < 84 and 8 <= py < 24
    px, py = peak(cams[1])
    assert 8 <= px < 24 and 40 <= py < 56
    # heatmap -> mask -> box recovers the blob (to within the 4 px cells of the feature map).
    (box,) = mask_to_boxes(heatmap_to_mask(cams[0], threshold=0.5))
    assert abs(box.x0 - 60) <= 4 and abs(box.y0 - 8) <= 4 and abs(box.x1 - 84) <= 4 and abs(box.y1 - 24) <= 4


def test_grad_cam_equals_cam_for_gap_linear():
    features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU())
    net = GapLinear(features, 16, 5).eval()
    x = torch.rand(2, 3, 48, 40) * 2 - 1
    with torch.no_grad():  # the class with most evidence (the map's mean is logit - bias), so the map is not all zero
        target = (net(x) - net.classifier.bias).argmax(dim=1)
    cam = class_activation_map(net, x, target)
    assert (cam.flatten(1).amax(dim=1) == 1).all()
    for layer in (None, "features", net.features):
        gc = grad_cam(net, x, target, layer=layer)
        assert gc.shape == cam.shape
        for a, b in zip(cam, gc, strict=True):
            corr = torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1]
            assert corr > 0.999
            assert torch.allclose(a, b, atol=1e-4)


def test_grad_cam_any_conv_layer_frozen_and_in_place():
    # A plain classifier (no CAM head), frozen weights, in-place ReLU right after the hooked conv.
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(8, 8, 3, 2, 1),
                        nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    assert not supports_cam(net)
    with pytest.raises(TypeError, match="grad_cam"):
        class_activation_map(net, torch.zeros(1, 3, 16, 16), 0)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    for layer in ("0", "2", None):
        heat = grad_cam(net, x, 2, layer=layer, size=(20, 30))
        assert heat.shape == (1, 20, 30) and torch.isfinite(heat).all()
        assert heat.min() >= 0 and heat.max() <= 1
    with pytest.raises(UserError, match="close matches") as err:
        grad_cam(net, x, 2, layer="20")
    assert "\n" not in str(err.value)


def test_class_index_checks():
    net, x = selector_net(), blob_image()
    with pytest.raises(ValueError, match="out of range"):
        class_activation_map(net, x, 7)
    with pytest.raises(ValueError, match="3 class indices for 1 images"):
        class_activation_map(net, x, [0, 1, 0])


def test_heatmap_to_mask_keep_modes():
    heat = torch.zeros(20, 30)
    heat[2:12, 2:14] = 0.8  # large region
    heat[15:18, 20:24] = 1.0  # small region holding the peak
    largest = heatmap_to_mask(heat, keep="largest")
    peak_only = heatmap_to_mask(heat, keep="peak")
    both = heatmap_to_mask(heat, keep="all")
    assert largest.dtype == torch.bool and largest.sum() == 120 and largest[5, 5]
    assert peak_only.sum() == 12 and peak_only[16, 21]
    assert both.sum() == 132
    assert heatmap_to_mask(heat, threshold=0.9, keep="all").sum() == 12  # relative to the maximum
    assert not heatmap_to_mask(torch.zeros(5, 5)).any()
    assert heatmap_to_mask(torch.stack([heat, heat * 2])).shape == (2, 20, 30)
    with pytest.raises(ValueError, match="keep"):
        heatmap_to_mask(heat, keep="biggest")


def test_boxes_round_trip_pad_and_merge():
    mask = boxes_to_mask([(2, 3, 12, 7), (20, 10, 23, 13)], height=16, width=30)
    assert mask.sum() == 49
    assert mask_to_boxes(mask) == [Box(2, 3, 12, 7), Box(20, 10, 23, 13)]  # largest first
    assert pad_box(Box(2, 3, 12, 7), pad=0.5, size=(16, 30)) == Box(0, 1, 17, 9)  # 5 / 2 px a side, clipped at 0
    assert merge_boxes([(0, 0, 10, 10), (2, 2, 12, 12), (50, 50, 55, 55)]) == [Box(0, 0, 12, 12), Box(50, 50, 55, 55)]
    assert merge_boxes([(0, 0, 20, 20), (5, 5, 9, 9)]) == [Box(0, 0, 20, 20)]  # one inside the other
