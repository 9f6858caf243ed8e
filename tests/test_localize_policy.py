"""The refusal list: clothing and sexual content are never targets, under any synonym."""

import pytest

from mosaicgan.errors import UserError
from mosaicgan.localize import check_allowed_class, is_restricted, load_classifier
from mosaicgan.localize.cam.policy import RESTRICTED_LABELS


@pytest.mark.parametrize("name", [
    "bikini", "Bikini", "two-piece", "bikini, two-piece", "brassiere", "bra", "bandeau", "miniskirt",
    "maillot", "tank_suit", "swimming trunks", "bathing-trunks", "pajama", "underwear", "lingerie",
    "bikini_present", "red bra", "NUDE", "swimsuit", "cardigan",
])
def test_refused_names(name):
    assert is_restricted(name)
    with pytest.raises(UserError, match="does not target clothing") as err:
        check_allowed_class(name)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["tabby cat", "barn", "boxer", "breastplate", "face", "licence plate",
                                  "Cardigan, Cardigan Welsh corgi", "church", "disc"])
def test_allowed_names(name):
    assert not is_restricted(name)
    check_allowed_class(name)


def test_every_listed_label_is_an_imagenet_label_and_refused_by_index():
    imagenet = load_classifier()
    for label in RESTRICTED_LABELS:
        index = imagenet.labels.index(label)  # the list names real labels, spelt as the model has them
        with pytest.raises(UserError, match="does not target clothing"):
            imagenet.resolve_allowed_class(index)
    assert imagenet.resolve_allowed_class("tabby") == 282
    # A typo is not answered with a refused class among the close matches.
    with pytest.raises(UserError, match="unknown class") as err:
        imagenet.resolve_allowed_class("bikinii")
    assert "bikini" not in str(err.value).split(";", 1)[1]
